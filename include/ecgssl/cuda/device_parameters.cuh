#pragma once
/// \file device_parameters.cuh
/// The device copy of a model's flat parameter and gradient buffers (DESIGN: one flat buffer per
/// model; layers hold views). Mirrors a host parameter_store entry for entry: the same offsets,
/// so a named parameter's device view is `values() + entry.offset`. Copies are explicit.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "device_buffer.cuh"

namespace ecgssl {

/// Device values and gradients of an allocated parameter_store<T>.
template <class T>
class device_parameters {
 public:
  /// Allocates device buffers of the store's size and uploads its values; gradients start at 0.
  /// Registers itself as the store's device mirror (parameter_store::set_device_mirror), where
  /// the layers on the cuda backend read their parameters and accumulate their gradients; the
  /// destructor unregisters it.
  explicit device_parameters(parameter_store<T>& store) : store_(&store) {
    if (!store.allocated()) {
      throw config_error(at_field("device_parameters"), "parameter_store not allocated",
                         "allocate() before mirroring on the device");
    }
    values_.resize(store.size());
    grads_.resize(store.size());
    upload_values();
    zero_grads();
    store.set_device_mirror(values_.data(), grads_.data());
  }
  ~device_parameters() {
    if (store_ != nullptr && store_->device_values() == values_.data() && values_.data() != nullptr) {
      store_->set_device_mirror(nullptr, nullptr);
    }
  }
  device_parameters(const device_parameters&) = delete;
  device_parameters& operator=(const device_parameters&) = delete;

  [[nodiscard]] std::size_t size() const { return values_.size(); }
  [[nodiscard]] T* values() { return values_.data(); }
  [[nodiscard]] const T* values() const { return values_.data(); }
  [[nodiscard]] T* grads() { return grads_.data(); }
  [[nodiscard]] const T* grads() const { return grads_.data(); }

  /// Device pointers of one named parameter (throws config_error naming it when unknown).
  [[nodiscard]] T* values(std::string_view name) { return values_.data() + entry(name).offset; }
  [[nodiscard]] T* grads(std::string_view name) { return grads_.data() + entry(name).offset; }

  /// device values <- host store values (blocking).
  void upload_values() { values_.copy_from_host(store_->values()); }
  /// host `store` values <- device values (blocking); `store` must have this layout.
  void download_values(parameter_store<T>& store) const {
    require_same_layout(store);
    values_.copy_to_host(store.values());
  }
  /// host `store` gradients <- device gradients (blocking).
  void download_grads(parameter_store<T>& store) const {
    require_same_layout(store);
    grads_.copy_to_host(store.grads());
  }
  /// Gradients <- 0 (queued on the current stream), before each accumulation step.
  void zero_grads() { grads_.zero(); }

 private:
  const parameter_entry& entry(std::string_view name) const {
    const parameter_entry* e = store_->find(name);
    if (e == nullptr) {
      throw config_error(at_field(std::string(name)), "no such parameter in the mirrored store",
                         "a name declared by the model");
    }
    return *e;
  }
  void require_same_layout(const parameter_store<T>& store) const {
    if (store.size() != values_.size()) {
      throw shape_error(at_field("device_parameters"),
                        std::to_string(store.size()) + " elements in the host store",
                        std::to_string(values_.size()) + " (the mirrored store's size)");
    }
  }

  parameter_store<T>* store_;
  device_buffer<T> values_;
  device_buffer<T> grads_;
};

}  // namespace ecgssl

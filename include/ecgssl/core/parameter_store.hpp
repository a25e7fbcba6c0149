#pragma once
/// \file parameter_store.hpp
/// One contiguous parameter buffer and one gradient buffer per model (as llm.c and mlpack's
/// SetWeights do). Layers declare named, shaped tensors; the store lays them out back to back;
/// optimizers then update one flat vector, and checkpoints address tensors by name.

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "error.hpp"
#include "tensor.hpp"

namespace ecgssl {

/// How the optimizer treats a tensor (parameter groups build on this).
struct parameter_attributes {
  bool weight_decay = true;  ///< false for norms and biases when a group asks for it
  bool trainable = true;     ///< false = frozen: gradients are computed but never applied
};

/// A named, shaped slice of the flat buffers.
struct parameter_entry {
  std::string name;
  std::vector<std::size_t> shape;
  std::size_t offset = 0;  ///< elements from the start of the flat buffer
  std::size_t size = 0;    ///< product of shape
  parameter_attributes attributes;
};

template <class T>
class parameter_store;

/// A handle to one tensor of a store; valid for the store's lifetime (stores never move).
template <class T>
class parameter {
 public:
  parameter() = default;
  parameter(parameter_store<T>* store, std::size_t index) : store_(store), index_(index) {}

  [[nodiscard]] std::span<T> value() const { return store_->values(*this); }
  [[nodiscard]] std::span<T> grad() const { return store_->grads(*this); }
  /// This tensor in the store's device mirror (cuda backend; see set_device_mirror). Throws
  /// config_error when no mirror is set.
  [[nodiscard]] T* device_value() const { return store_->device_values_at(*this); }
  [[nodiscard]] T* device_grad() const { return store_->device_grads_at(*this); }
  [[nodiscard]] const parameter_entry& entry() const { return store_->entries()[index_]; }
  [[nodiscard]] std::size_t index() const { return index_; }
  [[nodiscard]] bool valid() const { return store_ != nullptr; }

 private:
  parameter_store<T>* store_ = nullptr;
  std::size_t index_ = 0;
};

/// Owns the flat parameter and gradient buffers of one model.
/// Usage: declare every tensor with `add`, then `allocate()` once; values start at zero and
/// layers initialise them through their handles.
template <class T>
class parameter_store {
 public:
  using scalar_type = T;

  parameter_store() = default;
  parameter_store(const parameter_store&) = delete;
  parameter_store& operator=(const parameter_store&) = delete;
  parameter_store(parameter_store&&) = delete;  // handles point at the store
  parameter_store& operator=(parameter_store&&) = delete;

  /// Declares a tensor. Names must be unique; shapes must have no zero extent.
  parameter<T> add(std::string name, std::vector<std::size_t> shape,
                   parameter_attributes attributes = {}) {
    if (allocated_) {
      throw config_error(at_field(name), "parameter declared after the store was allocated",
                         "every add() before allocate()");
    }
    if (name.empty()) throw config_error(at_field("name"), "empty parameter name", "a non-empty name");
    if (index_by_name_.count(name) != 0) {
      throw config_error(at_field(name), "parameter name declared twice", "unique names");
    }
    std::size_t size = 1;
    for (auto extent : shape) size *= extent;
    if (shape.empty() || size == 0) {
      throw shape_error(at_field(name), "parameter shape " + shape_string(shape) + " has no elements",
                        "a non-empty shape with positive extents");
    }
    parameter_entry entry{std::move(name), std::move(shape), total_, size, attributes};
    total_ += size;
    index_by_name_.emplace(entry.name, entries_.size());
    entries_.push_back(std::move(entry));
    return parameter<T>(this, entries_.size() - 1);
  }

  /// Allocates both buffers (zero-filled). Idempotent.
  void allocate() {
    if (allocated_) return;
    values_.assign(total_, T(0));
    grads_.assign(total_, T(0));
    allocated_ = true;
  }

  [[nodiscard]] bool allocated() const { return allocated_; }
  [[nodiscard]] std::size_t size() const { return total_; }
  [[nodiscard]] const std::vector<parameter_entry>& entries() const { return entries_; }

  [[nodiscard]] std::span<T> values() { return require_allocated(), std::span<T>(values_); }
  [[nodiscard]] std::span<const T> values() const { return require_allocated(), std::span<const T>(values_); }
  [[nodiscard]] std::span<T> grads() { return require_allocated(), std::span<T>(grads_); }
  [[nodiscard]] std::span<const T> grads() const { return require_allocated(), std::span<const T>(grads_); }

  [[nodiscard]] std::span<T> values(const parameter<T>& p) { return slice(values_, p.index()); }
  [[nodiscard]] std::span<T> grads(const parameter<T>& p) { return slice(grads_, p.index()); }

  /// Looks a tensor up by name; nullptr when absent.
  [[nodiscard]] const parameter_entry* find(std::string_view name) const {
    auto it = index_by_name_.find(std::string(name));
    return it == index_by_name_.end() ? nullptr : &entries_[it->second];
  }

  /// Handle by name; throws config_error listing nothing when the name is unknown.
  [[nodiscard]] parameter<T> get(std::string_view name) {
    auto it = index_by_name_.find(std::string(name));
    if (it == index_by_name_.end()) {
      throw config_error(at_field(std::string(name)), "no parameter of that name", "a declared parameter name");
    }
    return parameter<T>(this, it->second);
  }

  /// Values of a named tensor as a span.
  [[nodiscard]] std::span<T> values(std::string_view name) { return values(get(name)); }
  [[nodiscard]] std::span<T> grads(std::string_view name) { return grads(get(name)); }

  void zero_grad() { std::fill(grads_.begin(), grads_.end(), T(0)); }

  /// Registers device copies of the flat buffers (same offsets), so that layers on a device
  /// backend find their parameters there. device_parameters sets it and clears it when
  /// destroyed; the store never dereferences these pointers.
  void set_device_mirror(T* values, T* grads) noexcept {
    device_values_ = values;
    device_grads_ = grads;
  }
  [[nodiscard]] T* device_values() const noexcept { return device_values_; }
  [[nodiscard]] T* device_grads() const noexcept { return device_grads_; }
  [[nodiscard]] T* device_values_at(const parameter<T>& p) const {
    return require_mirror(p), device_values_ + entries_[p.index()].offset;
  }
  [[nodiscard]] T* device_grads_at(const parameter<T>& p) const {
    return require_mirror(p), device_grads_ + entries_[p.index()].offset;
  }

  /// Marks every tensor whose name starts with `prefix` as (un)trainable.
  void set_trainable(std::string_view prefix, bool trainable) {
    for (auto& entry : entries_) {
      if (entry.name.rfind(prefix, 0) == 0) entry.attributes.trainable = trainable;
    }
  }

 private:
  void require_allocated() const {
    if (!allocated_) {
      throw config_error(at_field("parameter_store"), "buffers used before allocate()", "allocate() first");
    }
  }
  void require_mirror(const parameter<T>& p) const {
    if (device_values_ == nullptr || device_grads_ == nullptr) {
      throw config_error(at_field(entries_[p.index()].name),
                         "a device-backend layer used its parameter without a device mirror",
                         "a device_parameters<T>(store) alive while the layer runs");
    }
  }
  std::span<T> slice(std::vector<T>& buffer, std::size_t index) {
    require_allocated();
    const auto& entry = entries_[index];
    return std::span<T>(buffer.data() + entry.offset, entry.size);
  }

  std::vector<parameter_entry> entries_;
  std::unordered_map<std::string, std::size_t> index_by_name_;
  std::vector<T> values_;
  std::vector<T> grads_;
  std::size_t total_ = 0;
  bool allocated_ = false;
  T* device_values_ = nullptr;
  T* device_grads_ = nullptr;
};

}  // namespace ecgssl

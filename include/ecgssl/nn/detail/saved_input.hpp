#pragma once
/// \file saved_input.hpp
/// What a layer keeps of its forward input for backward: where the input lives, not a copy.
///
/// A copy per layer doubled the activation memory of a training step (issue 17: 7.8 GB for the
/// base update against PyTorch's 3.6). The price is a contract on the caller, the same one
/// autograd enforces with its version counters: **the tensor passed to `forward` stays alive, in
/// place and unchanged until the matching `backward`**. The models keep every activation a
/// backward reads in a buffer of its own; a model's own input is copied by the model, so callers
/// of a model may drop theirs after `forward`.
///
/// Builds that define `ECGSSL_CHECK_SAVED_INPUTS` (every test program) check the contract on the
/// host: a fingerprint of the contents taken at `forward` must match at `backward`, else the
/// layer throws naming itself. Release builds only keep the pointer and the shape.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "../../core/error.hpp"
#include "../../core/tensor.hpp"

namespace ecgssl::nn::detail {

template <class Tensor>
class saved_input {
 public:
  using value_type = std::remove_cv_t<std::remove_pointer_t<decltype(std::declval<const Tensor&>().data())>>;
  using shape_type = std::remove_cvref_t<decltype(std::declval<const Tensor&>().shape())>;

  void save(const Tensor& x) {
    data_ = x.data();
    size_ = x.size();
    shape_ = x.shape();
#ifdef ECGSSL_CHECK_SAVED_INPUTS
    if constexpr (is_host_tensor) fingerprint_ = fingerprint(data_, size_);
#endif
  }

  /// The saved input's elements; `layer` names the layer in the error a broken contract raises.
  [[nodiscard]] const value_type* data([[maybe_unused]] const std::string& layer) const {
#ifdef ECGSSL_CHECK_SAVED_INPUTS
    if constexpr (is_host_tensor) {
      if (data_ != nullptr && fingerprint(data_, size_) != fingerprint_) {
        throw config_error(at_field(layer + "input"), "changed between forward and backward",
                           "the tensor given to forward kept alive and unchanged until backward");
      }
    }
#endif
    return data_;
  }
  [[nodiscard]] const shape_type& shape() const { return shape_; }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  static constexpr bool is_host_tensor =
      std::is_same_v<Tensor, tensor<value_type, std::tuple_size_v<shape_type>>>;

  static std::uint64_t fingerprint(const value_type* p, std::size_t n) {
    // FNV-1a over the element bits, element by element: order-sensitive, so a permutation counts.
    std::uint64_t h = 1469598103934665603ULL;
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t bits = 0;
      std::memcpy(&bits, p + i, sizeof(value_type) < sizeof bits ? sizeof(value_type) : sizeof bits);
      h = (h ^ bits) * 1099511628211ULL;
    }
    return h;
  }

  const value_type* data_ = nullptr;
  std::size_t size_ = 0;
  shape_type shape_{};
#ifdef ECGSSL_CHECK_SAVED_INPUTS
  std::uint64_t fingerprint_ = 0;
#endif
};

}  // namespace ecgssl::nn::detail

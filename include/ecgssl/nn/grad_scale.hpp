#pragma once
/// \file grad_scale.hpp
/// Gradient scaling (fairseq GradMultiply, spec §3.3): identity forward, gradient times `factor`
/// backward. factor 0.1 in pre-training; factor 0 freezes everything upstream (fine-tuning), in
/// which case backward leaves dx untouched and containers skip the upstream layers entirely.

#include <cstddef>
#include <string>
#include <type_traits>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/parameter_store.hpp"
#include "../core/tensor.hpp"
#include "detail/common.hpp"

namespace ecgssl::nn {

/// y = x; dx += factor * dy (nothing at all when factor == 0).
template <class T, class B = host, std::size_t Rank = 3>
class grad_scale {
 public:
  using scalar_type = T;
  using backend_type = B;
  using input_type = backend_tensor_t<T, Rank, B>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, Rank, B>;

  grad_scale() = default;
  explicit grad_scale(double factor) : factor_(factor) {
    if (!(factor >= 0.0)) {
      throw config_error(at_field("grad_scale factor"), std::to_string(factor), "a factor >= 0");
    }
  }

  void declare_parameters(parameter_store<T>&, const std::string& prefix) { name_ = prefix; }

  void forward(const input_type& x, output_type& y) {
    detail::copy_into(y, x);
    shape_ = x.shape();
  }

  void backward(const output_type& dy, input_type& dx) {
    if (factor_ == 0.0) return;  // frozen upstream: do not even read dy
    detail::check_shape(dy.shape(), shape_, name_, "grad_scale output gradient");
    detail::check_shape(dx.shape(), shape_, name_, "grad_scale input gradient");
    const T f = static_cast<T>(factor_);
    if constexpr (!std::is_same_v<B, host>) {
      dx.accumulate(dy, f);
    } else {
      detail::for_chunks(dx.size(), [&](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) dx.data()[i] += f * dy.data()[i];
      });
    }
  }

  /// False when factor == 0: owners (sequential) then skip backward of everything before it.
  [[nodiscard]] bool propagates_gradient() const { return factor_ != 0.0; }

  void set_training(bool) {}
  void set_factor(double factor) { factor_ = grad_scale(factor).factor_; }
  [[nodiscard]] double factor() const { return factor_; }

 private:
  double factor_ = 1.0;
  std::string name_;
  typename input_type::shape_type shape_{};
};

}  // namespace ecgssl::nn

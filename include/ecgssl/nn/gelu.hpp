#pragma once
/// \file gelu.hpp
/// GELU, exact erf form (spec §3.3 extractor, §3.6 pos conv, §3.7 FFN): y = x * Phi(x).

#include <cstddef>
#include <string>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/parameter_store.hpp"
#include "../core/tensor.hpp"
#include "detail/common.hpp"
#include "detail/elementwise_kernels.hpp"
#include "detail/saved_input.hpp"

namespace ecgssl::nn {

/// Elementwise exact GELU on a tensor of any rank; no parameters.
template <class T, class B = host, std::size_t Rank = 3>
class gelu {
 public:
  using scalar_type = T;
  using backend_type = B;
  using input_type = backend_tensor_t<T, Rank, B>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, Rank, B>;

  void declare_parameters(parameter_store<T>&, const std::string& prefix) { name_ = prefix; }

  /// The derivative reads x where it lives: keep x alive and unchanged until backward.
  void forward(const input_type& x, output_type& y) {
    input_.save(x);
    detail::ensure_shape(y, x.shape());
    kernels::forward(x.data(), y.data(), x.size());
    have_forward_ = true;
  }

  void backward(const output_type& dy, input_type& dx) {
    detail::require_forward_done(have_forward_, name_);
    detail::check_shape(dy.shape(), input_.shape(), name_, "gelu output gradient");
    detail::check_shape(dx.shape(), input_.shape(), name_, "gelu input gradient");
    kernels::backward(input_.data(name_), dy.data(), dx.data(), input_.size());
  }

  void set_training(bool) {}

 private:
  using kernels = implementation_t<detail::gelu_op, B>;
  std::string name_;
  detail::saved_input<input_type> input_;
  bool have_forward_ = false;
};

}  // namespace ecgssl::nn

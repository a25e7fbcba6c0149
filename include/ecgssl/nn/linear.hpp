#pragma once
/// \file linear.hpp
/// Fully connected layer over the last axis (spec §3.4 post_extract_proj, §3.7 Q/K/V/FFN,
/// §3.9 projections), with PyTorch's layout and names: weight [out, in], bias [out].

#include <cmath>
#include <cstddef>
#include <string>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "detail/common.hpp"
#include "detail/linear_kernels.hpp"
#include "detail/saved_input.hpp"

namespace ecgssl::nn {

/// Weight initialisations of spec §3.10.
enum class linear_init {
  pytorch_default,  ///< kaiming_uniform(a=sqrt 5): U(+-1/sqrt(in)); bias U(+-1/sqrt(in))
  normal,           ///< N(0, init_std^2) weight, zero bias (init_bert_params: init_std 0.02)
  xavier_uniform,   ///< U(+-sqrt(6/(in+out))) weight, zero bias (classification head)
};

/// Options of a linear layer.
struct linear_options {
  std::size_t in_features = 0;
  std::size_t out_features = 0;
  bool bias = true;
  linear_init init = linear_init::pytorch_default;
  double init_std = 0.02;  ///< for linear_init::normal
};

/// y = x W^T + b over the last axis. x: [..., in] (Rank 2: [n, in]; Rank 3: [batch, time, in]).
template <class T, class B = host, std::size_t Rank = 3>
class linear {
  static_assert(Rank >= 2, "linear works on [rows, features] or higher-rank tensors");

 public:
  using scalar_type = T;
  using backend_type = B;
  using input_type = backend_tensor_t<T, Rank, B>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, Rank, B>;

  linear() = default;
  explicit linear(linear_options options) : options_(options) {
    if (options_.in_features == 0 || options_.out_features == 0) {
      throw config_error(at_field("linear features"),
                         "in_features=" + std::to_string(options_.in_features) +
                             ", out_features=" + std::to_string(options_.out_features),
                         "both positive");
    }
  }
  linear(std::size_t in_features, std::size_t out_features, bool bias = true,
         linear_init init = linear_init::pytorch_default)
      : linear(linear_options{in_features, out_features, bias, init}) {}

  /// Declares `<prefix>weight` [out, in] and, with bias, `<prefix>bias` [out].
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    name_ = prefix;
    weight_ = store.add(prefix + "weight", {options_.out_features, options_.in_features});
    if (options_.bias) {
      bias_ = store.add(prefix + "bias", {options_.out_features}, parameter_attributes{false, true});
    }
  }

  /// Draws the initial values (spec §3.10) from `rng`: weight from its draws, bias from a child.
  void initialize(const random_stream& rng) {
    const double fan_in = static_cast<double>(options_.in_features);
    const double fan_out = static_cast<double>(options_.out_features);
    const auto bias_rng = detail::child_stream(rng, 1);
    switch (options_.init) {
      case linear_init::pytorch_default:
        detail::fill_uniform(weight_.value(), rng, 1.0 / std::sqrt(fan_in));
        if (bias_.valid()) detail::fill_uniform(bias_.value(), bias_rng, 1.0 / std::sqrt(fan_in));
        break;
      case linear_init::normal:
        detail::fill_normal(weight_.value(), rng, options_.init_std);
        if (bias_.valid()) detail::fill_constant(bias_.value(), T(0));
        break;
      case linear_init::xavier_uniform:
        detail::fill_uniform(weight_.value(), rng, std::sqrt(6.0 / (fan_in + fan_out)));
        if (bias_.valid()) detail::fill_constant(bias_.value(), T(0));
        break;
    }
  }

  /// x: [..., in] -> y: [..., out]. Backward reads x for the weight gradient where it lives:
  /// keep x alive and unchanged until then (detail/saved_input.hpp).
  void forward(const input_type& x, output_type& y) {
    detail::require_declared(weight_.valid(), name_);
    detail::require_extent(x.shape()[Rank - 1], options_.in_features, name_, "input", "last axis");
    input_.save(x);
    auto out_shape = x.shape();
    out_shape[Rank - 1] = options_.out_features;
    detail::ensure_shape(y, out_shape);
    kernels::forward(x.data(), detail::values_of<B>(weight_), detail::values_or_null<B>(bias_),
                     y.data(), rows(), in(), out());
    have_forward_ = true;
  }

  /// dy: [..., out]; accumulates dx: [..., in], dW and db.
  void backward(const output_type& dy, input_type& dx) {
    detail::require_forward_done(have_forward_, name_);
    auto out_shape = input_.shape();
    out_shape[Rank - 1] = options_.out_features;
    detail::check_shape(dy.shape(), out_shape, name_, "output gradient");
    detail::check_shape(dx.shape(), input_.shape(), name_, "input gradient");
    kernels::backward(input_.data(name_), detail::values_of<B>(weight_), dy.data(), input_gradient_ ? dx.data() : nullptr,
                      detail::grads_of<B>(weight_), detail::grads_or_null<B>(bias_), rows(),
                      in(), out());
  }

  void set_training(bool) {}

  /// false: backward skips dx (left untouched), e.g. when x is data, not an activation.
  void set_input_gradient(bool on) { input_gradient_ = on; }

  [[nodiscard]] const linear_options& options() const { return options_; }
  [[nodiscard]] const parameter<T>& weight() const { return weight_; }
  [[nodiscard]] const parameter<T>& bias() const { return bias_; }

 private:
  using kernels = implementation_t<detail::linear_op, B>;
  [[nodiscard]] Eigen::Index rows() const {
    return static_cast<Eigen::Index>(detail::leading_size(input_.shape()));
  }
  [[nodiscard]] Eigen::Index in() const { return static_cast<Eigen::Index>(options_.in_features); }
  [[nodiscard]] Eigen::Index out() const { return static_cast<Eigen::Index>(options_.out_features); }

  linear_options options_{};
  std::string name_;
  parameter<T> weight_;
  parameter<T> bias_;
  detail::saved_input<input_type> input_;
  bool have_forward_ = false;
  bool input_gradient_ = true;
};

}  // namespace ecgssl::nn

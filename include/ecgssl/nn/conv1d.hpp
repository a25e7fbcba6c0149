#pragma once
/// \file conv1d.hpp
/// 1-D convolution over x: [batch, channels, time] as torch.nn.Conv1d (spec §3.3: the four
/// extractor convs k = s = 2 without bias; §3.6: the grouped positional conv k = 128, p = 64,
/// groups 16). Weight [out, in/groups, kernel], bias [out].

#include <cmath>
#include <cstddef>
#include <span>
#include <string>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "detail/common.hpp"
#include "detail/conv1d_kernels.hpp"
#include "detail/saved_input.hpp"

namespace ecgssl::nn {

/// Weight initialisations of spec §3.10 for convolutions.
enum class conv1d_init {
  kaiming_normal,   ///< N(0, 2/fan_in), fan_in = in/groups*kernel (extractor); bias 0
  pytorch_default,  ///< U(+-1/sqrt(fan_in)) weight and bias (torch.nn.Conv1d default)
  normal,           ///< N(0, init_std^2) weight, bias 0 (e.g. pos conv: sqrt(4/(k*C)))
};

/// Options of a conv1d layer.
struct conv1d_options {
  std::size_t in_channels = 0;
  std::size_t out_channels = 0;
  std::size_t kernel = 1;
  std::size_t stride = 1;
  std::size_t padding = 0;
  std::size_t dilation = 1;
  std::size_t groups = 1;
  bool bias = true;
  conv1d_init init = conv1d_init::kaiming_normal;
  double init_std = 0.02;  ///< for conv1d_init::normal
  /// The weight is not declared: its owner computes it (e.g. weight normalisation, spec §3.6)
  /// and passes it with bind_weight() before forward/backward.
  bool external_weight = false;
};

/// y[b, o, t] = bias[o] + sum_{i in group(o), k} w[o, i, k] * x[b, i, t*stride + k*dilation - padding].
template <class T, class B = host>
class conv1d {
 public:
  using scalar_type = T;
  using backend_type = B;
  using input_type = backend_tensor_t<T, 3, B>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, 3, B>;

  conv1d() = default;
  explicit conv1d(conv1d_options options) : options_(options) {
    const auto& o = options_;
    if (o.in_channels == 0 || o.out_channels == 0 || o.groups == 0 || o.in_channels % o.groups != 0 ||
        o.out_channels % o.groups != 0) {
      throw config_error(at_field("conv1d channels"),
                         "in_channels=" + std::to_string(o.in_channels) + ", out_channels=" +
                             std::to_string(o.out_channels) + ", groups=" + std::to_string(o.groups),
                         "positive channel counts divisible by groups");
    }
    if (o.kernel == 0 || o.stride == 0 || o.dilation == 0) {
      throw config_error(at_field("conv1d kernel/stride/dilation"),
                         "kernel=" + std::to_string(o.kernel) + ", stride=" + std::to_string(o.stride) +
                             ", dilation=" + std::to_string(o.dilation),
                         "all positive");
    }
  }
  /// Shorthand: conv1d(in, out, kernel, stride, bias).
  conv1d(std::size_t in_channels, std::size_t out_channels, std::size_t kernel, std::size_t stride = 1,
         bool bias = true)
      : conv1d(conv1d_options{in_channels, out_channels, kernel, stride, 0, 1, 1, bias}) {}

  /// Declares `<prefix>weight` [out, in/groups, kernel] (unless external) and `<prefix>bias` [out].
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    name_ = prefix;
    if (!options_.external_weight) {
      weight_ = store.add(prefix + "weight",
                          {options_.out_channels, options_.in_channels / options_.groups, options_.kernel});
    }
    if (options_.bias) {
      bias_ = store.add(prefix + "bias", {options_.out_channels}, parameter_attributes{false, true});
    }
  }

  /// Draws the initial values (spec §3.10): weight from `rng`, bias from a child stream.
  void initialize(const random_stream& rng) {
    const double fan_in = static_cast<double>(options_.in_channels / options_.groups * options_.kernel);
    const auto bias_rng = detail::child_stream(rng, 1);
    const bool own_weight = weight_.valid();
    switch (options_.init) {
      case conv1d_init::kaiming_normal:
        if (own_weight) detail::fill_normal(weight_.value(), rng, std::sqrt(2.0 / fan_in));
        if (bias_.valid()) detail::fill_constant(bias_.value(), T(0));
        break;
      case conv1d_init::pytorch_default:
        if (own_weight) detail::fill_uniform(weight_.value(), rng, 1.0 / std::sqrt(fan_in));
        if (bias_.valid()) detail::fill_uniform(bias_.value(), bias_rng, 1.0 / std::sqrt(fan_in));
        break;
      case conv1d_init::normal:
        if (own_weight) detail::fill_normal(weight_.value(), rng, options_.init_std);
        if (bias_.valid()) detail::fill_constant(bias_.value(), T(0));
        break;
    }
  }

  /// For external_weight: the weight values [out, in/groups, kernel] and where backward adds its
  /// gradient. Both must outlive the next forward/backward.
  void bind_weight(std::span<const T> value, std::span<T> grad) {
    const std::size_t size = weight_size();
    if (value.size() != size || grad.size() != size) {
      throw shape_error(at_field(name_ + "weight"), "bound weight has " + std::to_string(value.size()) +
                        " values and " + std::to_string(grad.size()) + " gradients", std::to_string(size));
    }
    external_value_ = value;
    external_grad_ = grad;
  }

  /// Output length for an input of `length` samples; throws when the kernel does not fit.
  [[nodiscard]] std::size_t output_length(std::size_t length) const {
    const std::size_t span = options_.dilation * (options_.kernel - 1) + 1;
    if (length + 2 * options_.padding < span) {
      throw shape_error(at_field(name_ + "input"),
                        "time axis of " + std::to_string(length) + " samples (+2x" +
                            std::to_string(options_.padding) + " padding) is shorter than the kernel span",
                        "at least " + std::to_string(span));
    }
    return (length + 2 * options_.padding - span) / options_.stride + 1;
  }

  /// x: [batch, in, time] -> y: [batch, out, time']. Backward reads x where it lives:
  /// keep x alive and unchanged until then.
  void forward(const input_type& x, output_type& y) {
    detail::require_declared(weight_.valid() || options_.external_weight, name_);
    detail::require_extent(x.shape()[1], options_.in_channels, name_, "input", "channel axis (1)");
    const auto g = geometry_for(x.shape());
    input_.save(x);
    detail::ensure_shape(y, std::array<std::size_t, 3>{g.batch, g.out_channels, g.out_length});
    kernels::forward(g, x.data(), weight_values(), detail::values_or_null<B>(bias_), y.data(),
                     workspace_);
    have_forward_ = true;
  }

  /// Accumulates dx, dW, db.
  void backward(const output_type& dy, input_type& dx) {
    detail::require_forward_done(have_forward_, name_);
    const auto g = geometry_for(input_.shape());
    detail::check_shape(dy.shape(), std::array<std::size_t, 3>{g.batch, g.out_channels, g.out_length}, name_,
                        "output gradient");
    detail::check_shape(dx.shape(), input_.shape(), name_, "input gradient");
    kernels::backward(g, input_.data(name_), weight_values(), dy.data(), input_gradient_ ? dx.data() : nullptr,
                      weight_grads(),
                      detail::grads_or_null<B>(bias_), workspace_);
  }

  void set_training(bool) {}

  /// false: backward skips dx (left untouched): the first extractor conv reads the raw signal,
  /// whose gradient nobody needs.
  void set_input_gradient(bool on) { input_gradient_ = on; }

  [[nodiscard]] const conv1d_options& options() const { return options_; }
  [[nodiscard]] const parameter<T>& weight() const { return weight_; }
  [[nodiscard]] const parameter<T>& bias() const { return bias_; }
  [[nodiscard]] std::size_t weight_size() const {
    return options_.out_channels * (options_.in_channels / options_.groups) * options_.kernel;
  }

 private:
  using kernels = implementation_t<detail::conv1d_op, B>;

  [[nodiscard]] detail::conv1d_geometry geometry_for(const typename input_type::shape_type& shape) const {
    return {shape[0],        options_.in_channels, options_.out_channels, shape[2], output_length(shape[2]),
            options_.kernel, options_.stride,      options_.padding,      options_.dilation, options_.groups};
  }
  const T* weight_values() const {
    if (weight_.valid()) return detail::values_of<B>(weight_);
    if (external_value_.empty()) {
      throw config_error(at_field(name_ + "weight"), "external weight not bound", "bind_weight() first");
    }
    return external_value_.data();
  }
  T* weight_grads() const { return weight_.valid() ? detail::grads_of<B>(weight_) : external_grad_.data(); }

  conv1d_options options_{};
  std::string name_;
  parameter<T> weight_;
  parameter<T> bias_;
  std::span<const T> external_value_;
  std::span<T> external_grad_;
  detail::saved_input<input_type> input_;
  typename kernels::template workspace<T> workspace_;  // the backend chooses its scratch storage
  bool have_forward_ = false;
  bool input_gradient_ = true;
};

}  // namespace ecgssl::nn

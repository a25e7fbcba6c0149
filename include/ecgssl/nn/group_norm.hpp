#pragma once
/// \file group_norm.hpp
/// GroupNorm over x: [batch, channels, time] (spec §3.3: GroupNorm(256 groups, 256 channels,
/// eps 1e-5, affine) after the first extractor conv = per-sample, per-channel normalisation over
/// time). As torch.nn.GroupNorm: biased variance, per-channel `weight` and `bias`.

#include <cstddef>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "detail/common.hpp"
#include "detail/norm_kernels.hpp"
#include "detail/saved_input.hpp"

namespace ecgssl::nn {

/// Normalises each (sample, group of channels) over its channels and time, then applies a
/// per-channel affine map. x: [batch, channels, time].
template <class T, class B = host>
class group_norm {
 public:
  using scalar_type = T;
  using backend_type = B;
  using input_type = backend_tensor_t<T, 3, B>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, 3, B>;

  group_norm() = default;
  group_norm(std::size_t num_groups, std::size_t channels, double eps = 1e-5, bool affine = true)
      : groups_(num_groups), channels_(channels), eps_(eps), affine_(affine) {
    if (num_groups == 0 || channels == 0 || channels % num_groups != 0) {
      throw config_error(at_field("group_norm num_groups"),
                         std::to_string(num_groups) + " groups for " + std::to_string(channels) +
                             " channels",
                         "a positive divisor of the channel count");
    }
    if (!(eps > 0.0)) {
      throw config_error(at_field("group_norm eps"), std::to_string(eps), "a positive number");
    }
  }

  /// Declares `<prefix>weight` [channels] and `<prefix>bias` [channels] (when affine).
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    name_ = prefix;
    if (!affine_) return;
    const parameter_attributes no_decay{false, true};
    gamma_ = store.add(prefix + "weight", {channels_}, no_decay);
    beta_ = store.add(prefix + "bias", {channels_}, no_decay);
  }

  /// gamma = 1, beta = 0 (spec §3.10).
  void initialize(const random_stream&) {
    if (!affine_) return;
    detail::fill_constant(gamma_.value(), T(1));
    detail::fill_constant(beta_.value(), T(0));
  }

  /// x: [batch, channels, time] -> y: same shape. Keeps per-(sample, group) statistics;
  /// backward reads x where it lives, so x stays alive and unchanged until then.
  void forward(const input_type& x, output_type& y) {
    detail::require_declared(!affine_ || gamma_.valid(), name_);
    detail::require_extent(x.shape()[1], channels_, name_, "input", "channel axis (1)");
    if (x.shape()[2] == 0) {
      throw shape_error(at_field(name_ + "input"), "time axis is empty", "at least one sample");
    }
    input_.save(x);
    detail::ensure_shape(y, x.shape());
    const auto g = geometry();
    mean_.resize(g.rows);
    rstd_.resize(g.rows);
    kernels::forward(g, x.data(), detail::values_or_null<B>(gamma_),
                     detail::values_or_null<B>(beta_), y.data(), mean_.data(), rstd_.data(),
                     eps_);
    have_forward_ = true;
  }

  /// Accumulates dx, dgamma, dbeta.
  void backward(const output_type& dy, input_type& dx) {
    detail::require_forward_done(have_forward_, name_);
    detail::check_shape(dy.shape(), input_.shape(), name_, "output gradient");
    detail::check_shape(dx.shape(), input_.shape(), name_, "input gradient");
    kernels::backward(geometry(), input_.data(name_), detail::values_or_null<B>(gamma_),
                      mean_.data(), rstd_.data(), dy.data(), dx.data(),
                      detail::grads_or_null<B>(gamma_), detail::grads_or_null<B>(beta_));
  }

  void set_training(bool) {}

  [[nodiscard]] std::size_t num_groups() const { return groups_; }
  [[nodiscard]] std::size_t channels() const { return channels_; }
  [[nodiscard]] double eps() const { return eps_; }
  [[nodiscard]] const parameter<T>& weight() const { return gamma_; }
  [[nodiscard]] const parameter<T>& bias() const { return beta_; }

 private:
  using kernels = implementation_t<detail::norm_op, B>;
  [[nodiscard]] detail::norm_geometry geometry() const {
    const std::size_t time = input_.shape()[2];
    return {input_.shape()[0] * groups_, (channels_ / groups_) * time, groups_, time, channels_};
  }

  std::size_t groups_ = 1;
  std::size_t channels_ = 0;
  double eps_ = 1e-5;
  bool affine_ = true;
  std::string name_;
  parameter<T> gamma_;
  parameter<T> beta_;
  detail::saved_input<input_type> input_;  // read where it lives: keep x until backward
  backend_array_t<T, B> mean_;
  backend_array_t<T, B> rstd_;
  bool have_forward_ = false;
};

}  // namespace ecgssl::nn

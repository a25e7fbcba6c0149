#pragma once
/// \file layer_norm.hpp
/// LayerNorm over the last axis (spec §3.4 feature LN eps 1e-5, §3.7 encoder LNs eps 1e-5 and
/// 1e-6), as torch.nn.LayerNorm: biased variance, names `weight` (gamma) and `bias` (beta).

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

/// y = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis of x: [..., features].
template <class T, class B = host, std::size_t Rank = 3>
class layer_norm {
  static_assert(Rank >= 1);

 public:
  using scalar_type = T;
  using backend_type = B;
  using input_type = backend_tensor_t<T, Rank, B>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, Rank, B>;

  layer_norm() = default;
  explicit layer_norm(std::size_t features, double eps = 1e-5, bool affine = true)
      : features_(features), eps_(eps), affine_(affine) {
    if (features == 0) throw config_error(at_field("layer_norm features"), "0", "a positive count");
    if (!(eps > 0.0)) {
      throw config_error(at_field("layer_norm eps"), std::to_string(eps), "a positive number");
    }
  }

  /// Declares `<prefix>weight` [features] and `<prefix>bias` [features] (when affine).
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    name_ = prefix;
    if (!affine_) return;
    const parameter_attributes no_decay{false, true};
    gamma_ = store.add(prefix + "weight", {features_}, no_decay);
    beta_ = store.add(prefix + "bias", {features_}, no_decay);
  }

  /// gamma = 1, beta = 0 (spec §3.10).
  void initialize(const random_stream&) {
    if (!affine_) return;
    detail::fill_constant(gamma_.value(), T(1));
    detail::fill_constant(beta_.value(), T(0));
  }

  /// x: [..., features] -> y: same shape. Keeps per-row mean and 1/std; backward
  /// reads x where it lives, so x stays alive and unchanged until then.
  void forward(const input_type& x, output_type& y) {
    detail::require_declared(!affine_ || gamma_.valid(), name_);
    detail::require_extent(x.shape()[Rank - 1], features_, name_, "input", "last axis");
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

  [[nodiscard]] std::size_t features() const { return features_; }
  [[nodiscard]] double eps() const { return eps_; }
  [[nodiscard]] const parameter<T>& weight() const { return gamma_; }
  [[nodiscard]] const parameter<T>& bias() const { return beta_; }

 private:
  using kernels = implementation_t<detail::norm_op, B>;
  [[nodiscard]] detail::norm_geometry geometry() const {
    return {detail::leading_size(input_.shape()), features_, 1, 1, features_};
  }

  std::size_t features_ = 0;
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

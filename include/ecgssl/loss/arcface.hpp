#pragma once
/// \file arcface.hpp
/// Additive angular margin loss (ArcFace) for patient identification (spec §6.3), including the
/// row normalisation of the class-weight matrix and its gradient.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/error.hpp"
#include "../core/ordered_sum.hpp"
#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "../core/threading.hpp"
#include "detail/common.hpp"
#include "detail/normalize_rows.hpp"

namespace ecgssl {

/// ArcFace hyper-parameters (spec §6.3 defaults: s = 192, m = 1 rad).
struct arcface_options {
  double scale = 192.0;   ///< s
  double margin = 1.0;    ///< m, radians
  double norm_eps = 1e-12;  ///< F.normalize's eps for embeddings and class rows
};

/// ArcFace: ê = x/‖x‖, ŵ_j = W_j/‖W_j‖, cosθ = clamp(ê·ŵᵀ, -1, 1); the target entry becomes
/// cos(θ+m) = cosθ·cos m - sinθ·sin m when cosθ > cos(π-m), else cosθ - m·sin m (the fallback
/// keeps the logit monotone in θ); logits = s·cos; L = mean over the batch of cross-entropy.
/// The class matrix W: [classes, dim] lives in a parameter store (`declare_parameters`) or in
/// caller-owned memory (`bind_weights`); backward accumulates into x's gradient and W's.
template <class T, class Backend = host>
class arcface {
  static_assert(loss_detail::host_only_v<Backend>, "ecgssl: this operation has no specialisation for the requested backend");

 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = tensor<T, 2>;  // embeddings (not yet normalised): [batch, dim]

  arcface(std::size_t classes, std::size_t dim, arcface_options options = {})
      : options_(options), classes_(classes), dim_(dim) {
    if (classes == 0 || dim == 0) {
      throw config_error(at_field("arcface.classes/dim"), "zero classes or zero embedding size",
                         "classes >= 1 and dim >= 1");
    }
    if (!(options.scale > 0) || !(options.margin >= 0 && options.margin < std::numbers::pi)) {
      throw config_error(at_field("arcface.scale/margin"),
                         "scale " + std::to_string(options.scale) + ", margin " + std::to_string(options.margin),
                         "scale > 0 and 0 <= margin < pi");
    }
  }

  /// Adds `<prefix>weight` [classes, dim] to the store and binds it.
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    weight_param_ = store.add(prefix + "weight", {classes_, dim_});
  }

  /// Uses caller-owned W [classes, dim] (row-major) and its gradient buffer.
  void bind_weights(std::span<const T> weight, std::span<T> weight_grad) {
    require_weight_buffers(weight.size(), weight_grad.size(), classes_, dim_);
    weight_ = weight;
    weight_grad_ = weight_grad;
    weight_param_ = {};
  }

  /// The reference initialisation of W (spec §3.10): U(-1, 1), each row renormed to norm at most
  /// 1e-5 then multiplied by 1e5 (so rows have unit norm), for W declared in a store.
  void initialize(std::uint64_t seed, std::uint64_t stream = 0) {
    initialize_parameter(weight_param_, classes_, dim_, seed, stream);
  }

  /// initialize() of the store entry `weight` (its host values); config_error when W is not in
  /// a store. Shared by every backend.
  static void initialize_parameter(const parameter<T>& weight, std::size_t classes, std::size_t dim,
                                   std::uint64_t seed, std::uint64_t stream) {
    if (!weight.valid()) {
      throw config_error(at_field("arcface.weight"), "class weights are not in a parameter store",
                         "declare_parameters() first, or initialize_weights() on your own buffer");
    }
    initialize_weights(weight.value(), classes, dim, seed, stream);
  }

  /// The same initialisation of a caller-owned W: [classes, dim]. Draw c·dim + d of the stream
  /// (seed, {init, stream}) fills W[c, d].
  static void initialize_weights(std::span<T> w, std::size_t classes, std::size_t dim, std::uint64_t seed,
                                 std::uint64_t stream = 0) {
    if (w.size() != classes * dim) {
      throw shape_error(at_field("arcface.weight"), std::to_string(w.size()) + " elements",
                        std::to_string(classes * dim) + " ([classes, dim])");
    }
    const random_stream rng(seed, stream_id({static_cast<std::uint64_t>(rng_purpose::init), stream}));
    parallel_for(static_cast<std::int64_t>(classes), [&](std::int64_t ci) {
      const auto c = static_cast<std::size_t>(ci);
      T* row = w.data() + c * dim;
      double sq = 0;
      for (std::size_t d = 0; d < dim; ++d) {
        const double u = 2.0 * rng.uniform(c * dim + d) - 1.0;
        row[d] = static_cast<T>(u);
        sq += u * u;
      }
      // torch.renorm_(2, 0, 1e-5): rows above the max norm are scaled by 1e-5/(norm + 1e-7).
      const double norm = std::sqrt(sq);
      const double factor = norm > 1e-5 ? 1e-5 / (norm + 1e-7) : 1.0;
      for (std::size_t d = 0; d < dim; ++d) row[d] = static_cast<T>(static_cast<double>(row[d]) * factor * 1e5);
    });
  }

  /// Class index per batch row, each in [0, classes).
  void set_targets(std::span<const std::int64_t> labels) {
    require_valid_labels(labels, classes_);
    labels_.assign(labels.begin(), labels.end());
  }

  /// Checks of the caller's inputs, shared by every backend: each label a class index in
  /// [0, classes) (data_error naming the row), ...
  static void require_valid_labels(std::span<const std::int64_t> labels, std::size_t classes) {
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= classes) {
        throw data_error(at_field("arcface.labels"),
                         "label " + std::to_string(labels[i]) + " at row " + std::to_string(i),
                         "a class index in [0, " + std::to_string(classes) + ")");
      }
    }
  }
  /// ... bound W and gradient buffers of classes·dim elements each (shape_error), ...
  static void require_weight_buffers(std::size_t weight_size, std::size_t grad_size, std::size_t classes,
                                     std::size_t dim) {
    if (weight_size != classes * dim || grad_size != classes * dim) {
      throw shape_error(at_field("arcface.weight"), "buffer of " + std::to_string(weight_size) + " elements",
                        std::to_string(classes * dim) + " elements ([classes, dim])");
    }
  }
  /// ... and class weights provided before forward (config_error).
  static void require_weights_provided(bool provided) {
    if (!provided) {
      throw config_error(at_field("arcface.weight"), "class weights were never provided",
                         "declare_parameters() or bind_weights() before forward()");
    }
  }

  T forward(const input_type& x) {
    const std::size_t batch = x.shape()[0];
    require_shape(x.shape(), std::array<std::size_t, 2>{labels_.size(), dim_}, "arcface.embeddings ([labels, dim])");
    if (batch == 0) throw shape_error(at_field("arcface.embeddings"), "an empty batch", "at least one row");
    loss_detail::require_finite(as_span(x), "arcface.embeddings");
    auto weight = weights();
    const T eps = static_cast<T>(options_.norm_eps);
    // Normalised embeddings and class rows, with the norms backward needs.
    loss_detail::normalize_rows(x.data(), batch, dim_, eps, embedding_hat_, embedding_norm_);
    loss_detail::normalize_rows(weight.data(), classes_, dim_, eps, weight_hat_, weight_norm_);
    // cos: [batch, classes] = ê ŵᵀ
    cos_.resize({batch, classes_});
    as_matrix(cos_).noalias() = as_matrix(embedding_hat_) * as_matrix(weight_hat_).transpose();
    probs_.resize({batch, classes_});
    target_derivative_.assign(batch, T(0));
    const T s = static_cast<T>(options_.scale);
    const T cos_m = static_cast<T>(std::cos(options_.margin));
    const T sin_m = static_cast<T>(std::sin(options_.margin));
    const T threshold = static_cast<T>(std::cos(std::numbers::pi - options_.margin));
    const T fallback = static_cast<T>(std::sin(std::numbers::pi - options_.margin) * options_.margin);
    std::vector<T>& row_loss = row_loss_;
    row_loss.assign(batch, T(0));
    parallel_for(static_cast<std::int64_t>(batch), [&](std::int64_t bi) {
      const auto b = static_cast<std::size_t>(bi);
      T* z = probs_.data() + b * classes_;      // logits, then probabilities
      const T* c_raw = cos_.data() + b * classes_;
      for (std::size_t j = 0; j < classes_; ++j) z[j] = s * std::clamp(c_raw[j], T(-1), T(1));
      const auto y = static_cast<std::size_t>(labels_[b]);
      const T c = std::clamp(c_raw[y], T(-1), T(1));
      T phi;
      T dphi;
      if (c > threshold) {
        const T sine_sq = std::clamp(T(1) - c * c, T(0), T(1));
        const T sine = std::sqrt(sine_sq);
        phi = c * cos_m - sine * sin_m;
        // d sinθ/d cosθ = -cosθ/sinθ; at |cosθ| = 1 the derivative is unbounded and torch
        // returns inf/NaN, so the (measure-zero) point keeps only the finite part.
        dphi = cos_m + (sine > T(0) ? c * sin_m / sine : T(0));
      } else {
        phi = c - fallback;
        dphi = T(1);
      }
      z[y] = s * phi;
      // Vectorised softmax (Eigen's array exp); every logit is finite here.
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> zs(z, static_cast<Eigen::Index>(classes_));
      const T top = zs.maxCoeff();
      const T target_logit = z[y];
      zs = (zs - top).exp();
      const T sum = ordered_sum(z, classes_);
      row_loss[b] = top + std::log(sum) - target_logit;
      zs *= T(1) / sum;
      target_derivative_[b] = dphi;
    });
    accumulator_t<T> total = 0;
    for (T v : row_loss) total += v;
    return static_cast<T>(total / static_cast<accumulator_t<T>>(batch));
  }

  /// grad: [batch, dim] += upstream·dL/dx; W's gradient += upstream·dL/dW.
  void backward(T upstream, input_type& grad) {
    const std::size_t batch = labels_.size();
    require_shape(grad.shape(), std::array<std::size_t, 2>{batch, dim_}, "arcface.grad");
    auto weight_grad = weight_gradients();
    const T s = static_cast<T>(options_.scale);
    // d cos: [batch, classes]; zero where the clamp was active.
    dcos_.resize({batch, classes_});
    const T scale = upstream * s / static_cast<T>(batch);
    parallel_for(static_cast<std::int64_t>(batch), [&](std::int64_t bi) {
      const auto b = static_cast<std::size_t>(bi);
      const T* p = probs_.data() + b * classes_;
      const T* c = cos_.data() + b * classes_;
      T* d = dcos_.data() + b * classes_;
      const auto y = static_cast<std::size_t>(labels_[b]);
      for (std::size_t j = 0; j < classes_; ++j) d[j] = scale * p[j];
      d[y] = scale * (p[y] - T(1)) * target_derivative_[b];
      for (std::size_t j = 0; j < classes_; ++j) {
        if (c[j] < T(-1) || c[j] > T(1)) d[j] = T(0);
      }
    });
    const T eps = static_cast<T>(options_.norm_eps);
    // Through ê (·ŵᵀ) and the normalisation of x.
    d_hat_.resize({batch, dim_});
    as_matrix(d_hat_).noalias() = as_matrix(dcos_) * as_matrix(weight_hat_);
    loss_detail::normalize_rows_backward(embedding_hat_.data(), embedding_norm_.data(), d_hat_.data(), batch, dim_,
                                         eps, grad.data());
    // Through ŵ and the row normalisation of W.
    d_weight_hat_.resize({classes_, dim_});
    as_matrix(d_weight_hat_).noalias() = as_matrix(dcos_).transpose() * as_matrix(embedding_hat_);
    loss_detail::normalize_rows_backward(weight_hat_.data(), weight_norm_.data(), d_weight_hat_.data(), classes_,
                                         dim_, eps, weight_grad.data());
  }

  [[nodiscard]] const tensor<T, 2>& cosines() const { return cos_; }      ///< raw ê·ŵᵀ of the last forward
  [[nodiscard]] const tensor<T, 2>& probabilities() const { return probs_; }
  [[nodiscard]] const arcface_options& options() const { return options_; }

 private:
  std::span<const T> weights() const {
    if (weight_param_.valid()) return weight_param_.value();
    require_weights_provided(!weight_.empty());
    return weight_;
  }
  std::span<T> weight_gradients() const {
    if (weight_param_.valid()) return weight_param_.grad();
    return weight_grad_;
  }

  arcface_options options_;
  std::size_t classes_;
  std::size_t dim_;
  parameter<T> weight_param_;
  std::span<const T> weight_;
  std::span<T> weight_grad_;
  std::vector<std::int64_t> labels_;
  tensor<T, 2> embedding_hat_, weight_hat_, cos_, probs_, dcos_, d_hat_, d_weight_hat_;
  std::vector<T> embedding_norm_, weight_norm_, target_derivative_, row_loss_;
};

}  // namespace ecgssl

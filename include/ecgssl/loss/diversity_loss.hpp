#pragma once
/// \file diversity_loss.hpp
/// Codebook diversity loss of the Gumbel quantizer (spec §3.8, §4.2):
/// L_d = (G·V - Σ_g exp(-Σ_v p̄_gv log(p̄_gv + 1e-7))) / (G·V), p̄_g = mean over positions of
/// softmax(logits_g) at temperature 1, with its gradient w.r.t. the quantizer logits.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "../core/backend.hpp"
#include "../core/error.hpp"
#include "../core/ordered_sum.hpp"
#include "../core/tensor.hpp"
#include "../core/threading.hpp"
#include "detail/common.hpp"

namespace ecgssl {

struct diversity_loss_options {
  std::size_t groups = 2;  ///< G (latent_groups)
  std::size_t vars = 320;  ///< V (latent_vars)
};

namespace diversity_detail {
/// The options, or config_error for zero groups or vars.
inline diversity_loss_options validated(const diversity_loss_options& options) {
  if (options.groups == 0 || options.vars == 0) {
    throw config_error(at_field("diversity_loss.groups/vars"), "zero groups or vars", ">= 1 each");
  }
  return options;
}

/// The number of positions of logits of shape [positions >= 1, G·V], else shape_error.
inline std::size_t checked_positions(const std::array<std::size_t, 2>& shape, const diversity_loss_options& o) {
  const std::size_t gv = o.groups * o.vars;
  if (shape[1] != gv || shape[0] == 0) {
    throw shape_error(at_field("diversity_loss.logits"), "got shape " + shape_string(shape),
                      "[positions >= 1, " + std::to_string(gv) + "] (G·V)");
  }
  return shape[0];
}

/// From p̄ [G·V]: perplexity[g] = exp(-Σ_v p̄_gv log(p̄_gv + 1e-7)), total = Σ_g perplexity[g];
/// returns L_d = (G·V - total) / (G·V). Shared by the host and cuda losses (p̄ is on the host).
template <class T>
T loss_from_mean(const std::vector<T>& mean, std::size_t g, std::size_t v, std::vector<T>& perplexity, T& total) {
  perplexity.assign(g, T(0));
  total = 0;
  for (std::size_t gi = 0; gi < g; ++gi) {
    accumulator_t<T> entropy = 0;
    for (std::size_t i = 0; i < v; ++i) {
      const T pm = mean[gi * v + i];
      entropy -= pm * std::log(pm + T(1e-7));
    }
    perplexity[gi] = static_cast<T>(std::exp(entropy));
    total += perplexity[gi];
  }
  const T gv = static_cast<T>(g * v);
  return (gv - total) / gv;
}

/// a[g·V + v] = dL_d/dp̄_gv = perplexity[g] (log(p̄_gv + 1e-7) + p̄_gv/(p̄_gv + 1e-7)) / (G·V).
template <class T>
void mean_gradient(const std::vector<T>& mean, const std::vector<T>& perplexity, std::size_t g, std::size_t v,
                   std::vector<T>& a) {
  const T gv = static_cast<T>(g * v);
  for (std::size_t gi = 0; gi < g; ++gi) {
    for (std::size_t i = 0; i < v; ++i) {
      const T pm = mean[gi * v + i];
      a[gi * v + i] = perplexity[gi] * (std::log(pm + T(1e-7)) + pm / (pm + T(1e-7))) / gv;
    }
  }
}
}  // namespace diversity_detail

/// logits: [positions, G·V] (the quantizer's weight_proj output at the masked frames).
template <class T, class Backend = host>
class diversity_loss {
  static_assert(loss_detail::host_only_v<Backend>, "ecgssl: this operation has no specialisation for the requested backend");

 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = tensor<T, 2>;

  explicit diversity_loss(diversity_loss_options options = {})
      : options_(diversity_detail::validated(options)) {}

  T forward(const input_type& logits) {
    const std::size_t g = options_.groups;
    const std::size_t v = options_.vars;
    const std::size_t positions = diversity_detail::checked_positions(logits.shape(), options_);
    loss_detail::require_finite(as_span(logits), "diversity_loss.logits");
    probs_.resize(logits.shape());
    parallel_for(static_cast<std::int64_t>(positions * g), [&](std::int64_t ri) {
      const auto r = static_cast<std::size_t>(ri);
      const T* l = logits.data() + r * v;
      T* p = probs_.data() + r * v;
      // Eigen's array exp is vectorised (a scalar std::exp loop is not, without -ffast-math).
      const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> in(l, static_cast<Eigen::Index>(v));
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> out(p, static_cast<Eigen::Index>(v));
      out = (in - in.maxCoeff()).exp();
      out *= T(1) / ordered_sum(p, v);
    });
    // p̄: [G·V], mean over positions. Rows are summed in fixed chunks (row-contiguous, cache
    // friendly), the chunk partials then in chunk order: deterministic for any thread count.
    const std::size_t width = g * v;
    const std::size_t chunks = (positions + rows_per_chunk - 1) / rows_per_chunk;
    partial_.assign(chunks * width, accumulator_t<T>(0));
    parallel_for(static_cast<std::int64_t>(chunks), [&](std::int64_t ci) {
      const auto c = static_cast<std::size_t>(ci);
      accumulator_t<T>* acc = partial_.data() + c * width;
      const std::size_t end = std::min(positions, (c + 1) * rows_per_chunk);
      for (std::size_t n = c * rows_per_chunk; n < end; ++n) {
        const T* p = probs_.data() + n * width;
        for (std::size_t i = 0; i < width; ++i) acc[i] += p[i];
      }
    });
    mean_.assign(width, T(0));
    for (std::size_t i = 0; i < width; ++i) {
      accumulator_t<T> sum = 0;
      for (std::size_t c = 0; c < chunks; ++c) sum += partial_[c * width + i];
      mean_[i] = static_cast<T>(sum / static_cast<accumulator_t<T>>(positions));
    }
    positions_ = positions;
    return diversity_detail::loss_from_mean(mean_, g, v, perplexity_, prob_perplexity_);
  }

  /// grad: [positions, G·V] += upstream·dL/dlogits =
  /// upstream/N · p_nu (a_u - Σ_v a_v p_nv), a_v = dL/dp̄_v = perp_g (log(p̄_v+1e-7) + p̄_v/(p̄_v+1e-7)) / (G·V).
  void backward(T upstream, input_type& grad) const {
    const std::size_t g = options_.groups;
    const std::size_t v = options_.vars;
    require_shape(grad.shape(), probs_.shape(), "diversity_loss.grad");
    std::vector<T> a(g * v);
    diversity_detail::mean_gradient(mean_, perplexity_, g, v, a);
    const T scale = upstream / static_cast<T>(positions_);
    parallel_for(static_cast<std::int64_t>(positions_ * g), [&](std::int64_t ri) {
      const auto r = static_cast<std::size_t>(ri);
      const std::size_t gi = r % g;
      const T* p = probs_.data() + r * v;
      const T* ag = a.data() + gi * v;
      T* out = grad.data() + r * v;
      T dot = 0;
      for (std::size_t i = 0; i < v; ++i) dot += ag[i] * p[i];
      for (std::size_t i = 0; i < v; ++i) out[i] += scale * p[i] * (ag[i] - dot);
    });
  }

  /// Σ_g perplexity of the last forward (fairseq's prob_perplexity, logged).
  [[nodiscard]] T prob_perplexity() const { return prob_perplexity_; }
  /// p̄ of the last forward: [G·V].
  [[nodiscard]] const std::vector<T>& mean_probabilities() const { return mean_; }
  [[nodiscard]] const diversity_loss_options& options() const { return options_; }

 private:
  diversity_loss_options options_;
  static constexpr std::size_t rows_per_chunk = 128;
  tensor<T, 2> probs_;
  std::vector<accumulator_t<T>> partial_;
  std::vector<T> mean_, perplexity_;
  T prob_perplexity_ = 0;
  std::size_t positions_ = 0;
};

}  // namespace ecgssl

#pragma once
/// \file gumbel_quantizer.hpp
/// Gumbel vector quantizer of wav2vec 2.0 (spec §3.8): G groups of V codes.
///   logits = weight_proj(x)                       x: [N, C] -> [N, G*V]
///   training: k = argmax(logits + gumbel); forward one-hot (hard), backward through
///             softmax((logits + gumbel) / tau) (straight-through, gumbel_softmax(hard=True))
///   eval:     k = argmax(logits), no gradient to the logits through the codes
///   q[n, g*d:(g+1)*d] = vars[0, g*V + k_g, :]     q: [N, vq_dim], d = vq_dim / G
///   tau(u) = max(max_temp * decay^u, min_temp) after u optimizer updates
///   prob_perplexity = sum_g exp(-sum_v pbar_gv log(pbar_gv + 1e-7)), pbar = mean over positions
///   of softmax(logits_g) (no noise, tau 1); code_perplexity the same with argmax one-hots.
/// The diversity loss uses prob_perplexity, so backward also takes its gradient.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "../core/threading.hpp"
#include "detail/common.hpp"
#include "linear.hpp"

namespace ecgssl::nn {

/// Options of gumbel_quantizer (defaults = spec §3.8).
struct gumbel_quantizer_options {
  std::size_t input_dim = 256;  ///< C
  std::size_t groups = 2;       ///< G
  std::size_t codes = 320;      ///< V per group
  std::size_t vq_dim = 256;     ///< output width; each group's code has vq_dim / G entries
  double max_temp = 2.0;
  double min_temp = 0.5;
  double temp_decay = 0.999995;
};

/// x: [N, C] -> q: [N, vq_dim].
template <class T, class Backend = host>
class gumbel_quantizer {
 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = tensor<T, 2>;
  using output_type = tensor<T, 2>;

  explicit gumbel_quantizer(gumbel_quantizer_options options = {})
      : options_(validated(options)),
        proj_(linear_options{options.input_dim, options.groups * options.codes, true,
                             linear_init::normal, 1.0}) {
    set_num_updates(0);
  }

  [[nodiscard]] const gumbel_quantizer_options& options() const { return options_; }

  /// Declares `<prefix>vars` [1, G*V, vq_dim/G] and `<prefix>weight_proj.{weight,bias}`.
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    const auto gv = options_.groups * options_.codes;
    vars_ = store.add(prefix + "vars", {1, gv, options_.vq_dim / options_.groups});
    proj_.declare_parameters(store, prefix + "weight_proj.");
  }
  /// Spec §3.10: vars ~ U[0, 1), weight_proj N(0, 1), bias 0.
  void initialize(const random_stream& rng) {
    auto v = vars_.value();
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(rng.uniform(i));
    proj_.initialize(detail::child_stream(rng, 1));
  }

  void set_training(bool training) { training_ = training; }
  /// Temperature for `updates` optimizer updates done so far.
  void set_num_updates(std::int64_t updates) {
    temperature_ = std::max(options_.max_temp * std::pow(options_.temp_decay, static_cast<double>(updates)),
                            options_.min_temp);
  }
  [[nodiscard]] double temperature() const { return temperature_; }
  /// The stream the next training forward draws its Gumbel noise from (draw n*G*V + j).
  void set_random_stream(const random_stream& rng) { rng_ = rng; }
  /// Uses explicit Gumbel noise [N, G*V] instead of drawing it, until clear_noise().
  void set_gumbel_noise(const tensor<T, 2>& noise) {
    noise_ = noise;
    use_injected_ = true;
  }
  void clear_noise() { use_injected_ = false; }

  // x: [N, C] -> q: [N, vq_dim]
  void forward(const input_type& x, output_type& q) {
    const auto n = x.shape()[0];
    const auto g_count = options_.groups;
    const auto v_count = options_.codes;
    const auto d = options_.vq_dim / g_count;
    if (n == 0) {
      throw shape_error(at_field("gumbel_quantizer.input"), "no positions to quantize", "N > 0 rows");
    }
    proj_.forward(x, logits_);
    rows_ = n;
    codes_.resize(n * g_count);
    probs_.resize(n * g_count * v_count);
    const bool noisy = training_;
    if (noisy) {
      soft_.resize(n * g_count * v_count);
      if (use_injected_) {
        require_shape(noise_.shape(), std::array<std::size_t, 2>{n, g_count * v_count}, "gumbel_quantizer.noise");
      } else if (!rng_) {
        throw config_error(at_field("gumbel_quantizer"), "training forward without a random stream",
                           "set_random_stream() before forward in training mode");
      }
    }
    const T inv_tau = static_cast<T>(1.0 / temperature_);
    std::vector<std::int64_t> hard_codes(n * g_count);
    parallel_for(static_cast<std::int64_t>(n * g_count), [&](std::int64_t ng64) {
      const auto ng = static_cast<std::size_t>(ng64);
      const T* l = logits_.data() + ng * v_count;
      T* p = probs_.data() + ng * v_count;
      softmax(l, p, v_count, T(1), nullptr);
      std::size_t best = 0;
      for (std::size_t v = 1; v < v_count; ++v) best = l[v] > l[best] ? v : best;
      hard_codes[ng] = static_cast<std::int64_t>(best);
      if (noisy) {
        T* s = soft_.data() + ng * v_count;
        const std::size_t base = ng * v_count;  // = n * G*V + g*V + v
        for (std::size_t v = 0; v < v_count; ++v) {
          const T gumbel = use_injected_ ? noise_.data()[base + v] : static_cast<T>(rng_->gumbel(base + v));
          s[v] = l[v] + gumbel;
        }
        std::size_t k = 0;
        for (std::size_t v = 1; v < v_count; ++v) k = s[v] > s[k] ? v : k;
        softmax(s, s, v_count, inv_tau, nullptr);
        codes_[ng] = static_cast<std::int64_t>(k);
      } else {
        codes_[ng] = static_cast<std::int64_t>(best);
      }
    });
    // perplexities over all positions, summed in position order (deterministic)
    prob_perplexity_ = 0;
    code_perplexity_ = 0;
    mean_probs_.assign(g_count * v_count, 0.0);
    group_perplexity_.assign(g_count, 0.0);
    std::vector<double> code_counts(g_count * v_count, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t g = 0; g < g_count; ++g) {
        const T* p = probs_.data() + (i * g_count + g) * v_count;
        for (std::size_t v = 0; v < v_count; ++v) mean_probs_[g * v_count + v] += p[v];
        code_counts[g * v_count + static_cast<std::size_t>(hard_codes[i * g_count + g])] += 1.0;
      }
    }
    for (std::size_t g = 0; g < g_count; ++g) {
      double h_prob = 0;
      double h_code = 0;
      for (std::size_t v = 0; v < v_count; ++v) {
        auto& pbar = mean_probs_[g * v_count + v];
        pbar /= static_cast<double>(n);
        h_prob -= pbar * std::log(pbar + 1e-7);
        const double c = code_counts[g * v_count + v] / static_cast<double>(n);
        h_code -= c * std::log(c + 1e-7);
      }
      group_perplexity_[g] = std::exp(h_prob);
      prob_perplexity_ += group_perplexity_[g];
      code_perplexity_ += std::exp(h_code);
    }
    // q = concat over groups of the selected codes
    detail::ensure_shape(q, std::array<std::size_t, 2>{n, options_.vq_dim});
    const T* vars = vars_.value().data();
    parallel_for(static_cast<std::int64_t>(n), [&](std::int64_t i64) {
      const auto i = static_cast<std::size_t>(i64);
      for (std::size_t g = 0; g < g_count; ++g) {
        const auto k = static_cast<std::size_t>(codes_[i * g_count + g]);
        const T* code = vars + (g * v_count + k) * d;
        std::copy(code, code + d, q.data() + i * options_.vq_dim + g * d);
      }
    });
  }

  /// Accumulates dx and the parameter gradients for dq (no perplexity gradient).
  void backward(const output_type& dq, input_type& dx) { backward(dq, T(0), dx); }

  /// Accumulates dx and the parameter gradients given dq: [N, vq_dim] and the gradient of the
  /// objective with respect to prob_perplexity.
  void backward(const output_type& dq, T d_prob_perplexity, input_type& dx) {
    const auto n = rows_;
    const auto g_count = options_.groups;
    const auto v_count = options_.codes;
    const auto d = options_.vq_dim / g_count;
    require_shape(dq.shape(), std::array<std::size_t, 2>{n, options_.vq_dim}, "gumbel_quantizer.output_grad");
    // vars: the forward weights are one-hot, so each position adds dq to its selected codes.
    T* dvars = vars_.grad().data();
    for (std::size_t i = 0; i < n; ++i) {  // serial: codes repeat across positions
      for (std::size_t g = 0; g < g_count; ++g) {
        const auto k = static_cast<std::size_t>(codes_[i * g_count + g]);
        const T* src = dq.data() + i * options_.vq_dim + g * d;
        T* dst = dvars + (g * v_count + k) * d;
        for (std::size_t c = 0; c < d; ++c) dst[c] += src[c];
      }
    }
    detail::zero_like(dlogits_, logits_.shape());
    const T* vars = vars_.value().data();
    const bool through_codes = training_;
    const T inv_tau = static_cast<T>(1.0 / temperature_);
    std::vector<T> dpbar(g_count * v_count, T(0));
    if (d_prob_perplexity != T(0)) {
      for (std::size_t g = 0; g < g_count; ++g) {
        for (std::size_t v = 0; v < v_count; ++v) {
          const double pbar = mean_probs_[g * v_count + v];
          const double dh = -(std::log(pbar + 1e-7) + pbar / (pbar + 1e-7));
          dpbar[g * v_count + v] = static_cast<T>(static_cast<double>(d_prob_perplexity) *
                                                  group_perplexity_[g] * dh / static_cast<double>(n));
        }
      }
    }
    parallel_for(static_cast<std::int64_t>(n * g_count), [&](std::int64_t ng64) {
      const auto ng = static_cast<std::size_t>(ng64);
      const std::size_t i = ng / g_count;
      const std::size_t g = ng % g_count;
      T* dl = dlogits_.data() + ng * v_count;
      if (through_codes) {
        // d onehot_v = dq_g . vars[g*V + v]; back through softmax((l + gumbel) / tau)
        const T* s = soft_.data() + ng * v_count;
        const T* dqg = dq.data() + i * options_.vq_dim + g * d;
        T dot = 0;
        for (std::size_t v = 0; v < v_count; ++v) {
          const T* code = vars + (g * v_count + v) * d;
          T e = 0;
          for (std::size_t c = 0; c < d; ++c) e += dqg[c] * code[c];
          dl[v] = e;
          dot += e * s[v];
        }
        for (std::size_t v = 0; v < v_count; ++v) dl[v] = s[v] * (dl[v] - dot) * inv_tau;
      }
      if (d_prob_perplexity != T(0)) {
        const T* p = probs_.data() + ng * v_count;
        const T* dp = dpbar.data() + g * v_count;
        T dot = 0;
        for (std::size_t v = 0; v < v_count; ++v) dot += dp[v] * p[v];
        for (std::size_t v = 0; v < v_count; ++v) dl[v] += p[v] * (dp[v] - dot);
      }
    });
    proj_.backward(dlogits_, dx);
  }

  [[nodiscard]] double prob_perplexity() const { return prob_perplexity_; }
  [[nodiscard]] double code_perplexity() const { return code_perplexity_; }
  /// Selected code per position and group of the last forward, [N * G] (index within the group).
  [[nodiscard]] const std::vector<std::int64_t>& codes() const { return codes_; }
  /// Logits of the last forward, [N, G*V].
  [[nodiscard]] const tensor<T, 2>& logits() const { return logits_; }

 private:
  static gumbel_quantizer_options validated(const gumbel_quantizer_options& o) {
    if (o.groups == 0 || o.codes == 0 || o.input_dim == 0 || o.vq_dim % std::max<std::size_t>(o.groups, 1) != 0) {
      throw config_error(at_field("gumbel_quantizer.vq_dim"),
                         "groups " + std::to_string(o.groups) + ", codes " + std::to_string(o.codes) +
                             ", vq_dim " + std::to_string(o.vq_dim),
                         "positive groups and codes, vq_dim divisible by groups");
    }
    if (!(o.min_temp > 0.0 && o.max_temp >= o.min_temp && o.temp_decay > 0.0)) {
      throw config_error(at_field("gumbel_quantizer.temperature"),
                         "max " + std::to_string(o.max_temp) + ", min " + std::to_string(o.min_temp) +
                             ", decay " + std::to_string(o.temp_decay),
                         "0 < min_temp <= max_temp and decay > 0");
    }
    return o;
  }
  // out = softmax(in * scale); in and out may alias.
  static void softmax(const T* in, T* out, std::size_t n, T scale, T*) {
    T mx = -std::numeric_limits<T>::infinity();
    for (std::size_t v = 0; v < n; ++v) mx = std::max(mx, in[v] * scale);
    T sum = 0;
    for (std::size_t v = 0; v < n; ++v) {
      out[v] = std::exp(in[v] * scale - mx);
      sum += out[v];
    }
    for (std::size_t v = 0; v < n; ++v) out[v] /= sum;
  }

  gumbel_quantizer_options options_;
  linear<T, Backend, 2> proj_;
  parameter<T> vars_;
  bool training_ = true;
  bool use_injected_ = false;
  double temperature_ = 2.0;
  std::optional<random_stream> rng_;
  tensor<T, 2> noise_;
  tensor<T, 2> logits_, dlogits_;
  std::size_t rows_ = 0;
  std::vector<std::int64_t> codes_;
  std::vector<T> probs_, soft_;
  std::vector<double> mean_probs_;
  std::vector<double> group_perplexity_;
  double prob_perplexity_ = 0;
  double code_perplexity_ = 0;
};

}  // namespace ecgssl::nn

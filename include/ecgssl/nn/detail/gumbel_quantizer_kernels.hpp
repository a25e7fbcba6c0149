#pragma once
/// \file gumbel_quantizer_kernels.hpp
/// Host math of nn::gumbel_quantizer (spec §3.8) after its weight_proj: per (position, group)
/// code selection, the perplexity statistics, the code lookup and the backward. The layer
/// (nn/gumbel_quantizer.hpp) finishes the perplexities from the statistics on the host for
/// every backend; cuda/gumbel_quantizer_kernels.cuh is the device twin.
///
/// Layouts (row-major): logits, probs, soft, noise, dlogits: [N, G, V]; hard, codes: [N, G];
/// vars, dvars: [G, V, d]; q, dq: [N, G*d]; stats: [2, G, V] (prob sums, then code counts).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../../core/backend.hpp"
#include "../../core/config.hpp"
#include "../../core/philox.hpp"
#include "../../core/threading.hpp"

namespace ecgssl::nn::detail {
/// Operation tag of the Gumbel quantizer's math after weight_proj.
struct gumbel_quantizer_op {};

// Row helpers shared with the device twin (cuda/detail/gumbel_math.cuh), host and device.
ECGSSL_HOST_DEVICE inline float gumbel_exp(float x) { return ::expf(x); }
ECGSSL_HOST_DEVICE inline double gumbel_exp(double x) { return ::exp(x); }

/// out = softmax(in * scale) over n entries (in and out may alias): running max of the scaled
/// inputs, exponentials summed in order, then divided.
template <class T>
ECGSSL_HOST_DEVICE void gumbel_softmax_row(const T* in, T* out, std::size_t n, T scale) {
  T mx = -INFINITY;
  for (std::size_t v = 0; v < n; ++v) {
    const T x = in[v] * scale;
    mx = mx < x ? x : mx;  // std::max(mx, x)
  }
  T sum = 0;
  for (std::size_t v = 0; v < n; ++v) {
    out[v] = gumbel_exp(in[v] * scale - mx);
    sum += out[v];
  }
  for (std::size_t v = 0; v < n; ++v) out[v] /= sum;
}

/// First index of the largest of x[0, n).
template <class T>
ECGSSL_HOST_DEVICE std::size_t gumbel_argmax(const T* x, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t v = 1; v < n; ++v) best = x[v] > x[best] ? v : best;
  return best;
}

/// Straight-through gradient of one (position, group) row: d onehot_v = dq_g . code_v (codes
/// [V, d] of the group), back through soft = softmax((l + gumbel) / tau); written into dl.
template <class T>
ECGSSL_HOST_DEVICE void gumbel_straight_through_row(const T* dqg, const T* codes, const T* soft, T inv_tau, T* dl,
                                                    std::size_t v_count, std::size_t d) {
  T dot = 0;
  for (std::size_t v = 0; v < v_count; ++v) {
    const T* code = codes + v * d;
    T e = 0;
    for (std::size_t c = 0; c < d; ++c) e += dqg[c] * code[c];
    dl[v] = e;
    dot += e * soft[v];
  }
  for (std::size_t v = 0; v < v_count; ++v) dl[v] = soft[v] * (dl[v] - dot) * inv_tau;
}

/// dl += the gradient dp (w.r.t. the group's mean probabilities, already over N) back through
/// p = softmax(l) of one row.
template <class T>
ECGSSL_HOST_DEVICE void gumbel_probs_gradient_row(const T* p, const T* dp, T* dl, std::size_t v_count) {
  T dot = 0;
  for (std::size_t v = 0; v < v_count; ++v) dot += dp[v] * p[v];
  for (std::size_t v = 0; v < v_count; ++v) dl[v] += p[v] * (dp[v] - dot);
}
}  // namespace ecgssl::nn::detail

namespace ecgssl {

template <>
struct implementation<nn::detail::gumbel_quantizer_op, host> {
  /// Per row r = n*G + g: probs = softmax(logits), hard = argmax(logits); when noisy,
  /// soft = softmax((logits + gumbel) / tau), codes = argmax(logits + gumbel), the noise being
  /// noise[r*V + v] when noise is not null, else rng->gumbel(r*V + v); otherwise codes = hard.
  template <class T>
  static void select(const T* logits, const T* noise, const random_stream* rng, bool noisy, T inv_tau, T* probs,
                     T* soft, std::int64_t* hard, std::int64_t* codes, std::size_t n, std::size_t g_count,
                     std::size_t v_count) {
    parallel_for(static_cast<std::int64_t>(n * g_count), [&](std::int64_t ng64) {
      const auto ng = static_cast<std::size_t>(ng64);
      const T* l = logits + ng * v_count;
      T* p = probs + ng * v_count;
      nn::detail::gumbel_softmax_row(l, p, v_count, T(1));
      const std::size_t best = nn::detail::gumbel_argmax(l, v_count);
      hard[ng] = static_cast<std::int64_t>(best);
      if (noisy) {
        T* s = soft + ng * v_count;
        const std::size_t base = ng * v_count;  // = n * G*V + g*V + v
        for (std::size_t v = 0; v < v_count; ++v) {
          const T gumbel = noise != nullptr ? noise[base + v] : static_cast<T>(rng->gumbel(base + v));
          s[v] = l[v] + gumbel;
        }
        const std::size_t k = nn::detail::gumbel_argmax(s, v_count);
        nn::detail::gumbel_softmax_row(s, s, v_count, inv_tau);
        codes[ng] = static_cast<std::int64_t>(k);
      } else {
        codes[ng] = static_cast<std::int64_t>(best);
      }
    });
  }

  /// stats[g*V + v] = sum over positions of probs[n, g, v]; stats[G*V + g*V + v] = number of
  /// positions whose hard code of group g is v. Summed in position order, in double.
  template <class T>
  static void statistics(const T* probs, const std::int64_t* hard, double* stats, std::size_t n, std::size_t g_count,
                         std::size_t v_count) {
    const std::size_t gv = g_count * v_count;
    std::fill(stats, stats + 2 * gv, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t g = 0; g < g_count; ++g) {
        const T* p = probs + (i * g_count + g) * v_count;
        for (std::size_t v = 0; v < v_count; ++v) stats[g * v_count + v] += p[v];
        stats[gv + g * v_count + static_cast<std::size_t>(hard[i * g_count + g])] += 1.0;
      }
    }
  }

  /// q[n, g*d:(g+1)*d] = vars[g, codes[n, g], :].
  template <class T>
  static void lookup(const std::int64_t* codes, const T* vars, T* q, std::size_t n, std::size_t g_count,
                     std::size_t v_count, std::size_t d) {
    parallel_for(static_cast<std::int64_t>(n), [&](std::int64_t i64) {
      const auto i = static_cast<std::size_t>(i64);
      for (std::size_t g = 0; g < g_count; ++g) {
        const auto k = static_cast<std::size_t>(codes[i * g_count + g]);
        const T* code = vars + (g * v_count + k) * d;
        std::copy(code, code + d, q + i * g_count * d + g * d);
      }
    });
  }

  /// dvars[g, codes[n, g], :] += dq[n, g*d:(g+1)*d], positions in order.
  template <class T>
  static void vars_backward(const T* dq, const std::int64_t* codes, T* dvars, std::size_t n, std::size_t g_count,
                            std::size_t v_count, std::size_t d) {
    for (std::size_t i = 0; i < n; ++i) {  // serial: codes repeat across positions
      for (std::size_t g = 0; g < g_count; ++g) {
        const auto k = static_cast<std::size_t>(codes[i * g_count + g]);
        const T* src = dq + i * g_count * d + g * d;
        T* dst = dvars + (g * v_count + k) * d;
        for (std::size_t c = 0; c < d; ++c) dst[c] += src[c];
      }
    }
  }

  /// dlogits (written): in training, d onehot_v = dq_g . vars[g, v] back through
  /// softmax((l + gumbel) / tau) (straight-through); plus, when dpbar ([G, V], the gradient
  /// w.r.t. the mean probabilities) is not null, its share back through softmax(l).
  template <class T>
  static void logits_backward(const T* dq, const T* vars, const T* soft, const T* probs, const T* dpbar,
                              bool through_codes, T inv_tau, T* dlogits, std::size_t n, std::size_t g_count,
                              std::size_t v_count, std::size_t d) {
    parallel_for(static_cast<std::int64_t>(n * g_count), [&](std::int64_t ng64) {
      const auto ng = static_cast<std::size_t>(ng64);
      const std::size_t i = ng / g_count;
      const std::size_t g = ng % g_count;
      T* dl = dlogits + ng * v_count;
      std::fill(dl, dl + v_count, T(0));
      if (through_codes) {
        nn::detail::gumbel_straight_through_row(dq + i * g_count * d + g * d, vars + g * v_count * d,
                                                soft + ng * v_count, inv_tau, dl, v_count, d);
      }
      if (dpbar != nullptr) nn::detail::gumbel_probs_gradient_row(probs + ng * v_count, dpbar + g * v_count, dl, v_count);
    });
  }
};

}  // namespace ecgssl

#pragma once
/// \file gumbel_math.cuh
/// The per-element math of the CUDA Gumbel vector quantizer (spec §3.8), with no CUDA
/// dependency: the kernels in cuda/gumbel_quantizer_kernels.cuh call these functions (one thread
/// per (position, group) row, per (group, code) column or per output element), and the host test
/// tests/cuda/test_gumbel_math.cpp runs the same functions in the kernels' decomposition against
/// the host quantizer, on machines without a GPU. Every function does its arithmetic in the host
/// twin's order (implementation<gumbel_quantizer_op, host>, whose row softmax and argmax it
/// shares), so on the host the replay is bit-identical to it; the device differs only where its
/// exp or a fused multiply-add does.
///
/// Layouts (row-major): logits, probs, soft, noise: [N, G, V]; codes: [N, G]; vars: [G, V, d];
/// q, dq: [N, G*d]; statistics: [2, G, V] (prob sums, then code counts).

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../../core/config.hpp"
#include "../../core/philox.hpp"
#include "../../nn/detail/gumbel_quantizer_kernels.hpp"

namespace ecgssl::cuda_detail::gumbel {

/// Quantizer geometry: N positions, G groups of V codes, d entries per code.
struct dims {
  std::size_t positions = 0, groups = 0, codes = 0, width = 0;
  ECGSSL_HOST_DEVICE std::size_t rows() const { return positions * groups; }
  ECGSSL_HOST_DEVICE std::size_t row_width() const { return groups * codes; }
  ECGSSL_HOST_DEVICE std::size_t vq_dim() const { return groups * width; }
};

using nn::detail::gumbel_argmax;
using nn::detail::gumbel_softmax_row;

/// Forward of row r = n*G + g: probs = softmax(logits) (tau 1), hard = argmax(logits); when
/// noisy, soft = softmax((logits + gumbel) / tau) and code = argmax(logits + gumbel), the noise
/// being noise[r*V + v] when given, else rng.gumbel(r*V + v) (= n*G*V + g*V + v); otherwise
/// code = hard and soft is not touched.
template <class T>
ECGSSL_HOST_DEVICE void select_row(const dims& d, std::size_t r, const T* logits, const T* noise,
                                   const random_stream& rng, bool noisy, T inv_tau, T* probs, T* soft,
                                   std::int64_t* hard, std::int64_t* codes) {
  const std::size_t v_count = d.codes;
  const T* l = logits + r * v_count;
  gumbel_softmax_row(l, probs + r * v_count, v_count, T(1));
  const std::size_t best = gumbel_argmax(l, v_count);
  hard[r] = static_cast<std::int64_t>(best);
  if (!noisy) {
    codes[r] = static_cast<std::int64_t>(best);
    return;
  }
  T* s = soft + r * v_count;
  const std::size_t base = r * v_count;
  for (std::size_t v = 0; v < v_count; ++v) {
    const T g = noise != nullptr ? noise[base + v] : static_cast<T>(rng.gumbel(base + v));
    s[v] = l[v] + g;
  }
  codes[r] = static_cast<std::int64_t>(gumbel_argmax(s, v_count));
  gumbel_softmax_row(s, s, v_count, inv_tau);
}

/// Column c = g*V + v of the statistics: the sum over positions, in position order and in
/// double, of probs[n, g, v] (into stats[c]) and of [hard[n, g] == v] (into stats[G*V + c]).
template <class T>
ECGSSL_HOST_DEVICE void statistics_column(const dims& d, std::size_t c, const T* probs, const std::int64_t* hard,
                                          double* stats) {
  const std::size_t g = c / d.codes;
  const auto v = static_cast<std::int64_t>(c % d.codes);
  double sum = 0;
  double count = 0;
  for (std::size_t n = 0; n < d.positions; ++n) {
    sum += probs[n * d.row_width() + c];
    count += hard[n * d.groups + g] == v ? 1.0 : 0.0;
  }
  stats[c] = sum;
  stats[d.row_width() + c] = count;
}

/// Element e of q [N, G*d]: entry e % d of the code selected for its (position, group).
template <class T>
ECGSSL_HOST_DEVICE T lookup(const dims& d, std::size_t e, const std::int64_t* codes, const T* vars) {
  const std::size_t n = e / d.vq_dim();
  const std::size_t col = e % d.vq_dim();
  const std::size_t g = col / d.width;
  const auto k = static_cast<std::size_t>(codes[n * d.groups + g]);
  return vars[(g * d.codes + k) * d.width + col % d.width];
}

/// Element e = (g*V + v)*d + c of the vars gradient: adds dq[n, g*d + c] of every position n
/// that selected code v of group g, in position order (the host's serial order).
template <class T>
ECGSSL_HOST_DEVICE void vars_gradient(const dims& d, std::size_t e, const T* dq, const std::int64_t* codes, T* dvars) {
  const std::size_t c = e % d.width;
  const auto v = static_cast<std::int64_t>((e / d.width) % d.codes);
  const std::size_t g = e / (d.width * d.codes);
  T acc = dvars[e];
  for (std::size_t n = 0; n < d.positions; ++n) {
    if (codes[n * d.groups + g] == v) acc += dq[n * d.vq_dim() + g * d.width + c];
  }
  dvars[e] = acc;
}

/// Row r = n*G + g of dlogits (written, not accumulated): in training the straight-through
/// gradient back through softmax((l + gumbel) / tau) of d onehot_v = dq_g . vars[g, v]; plus,
/// when dpbar (the gradient w.r.t. the mean probabilities, [G, V]) is given, its share back
/// through softmax(l).
template <class T>
ECGSSL_HOST_DEVICE void logits_gradient_row(const dims& d, std::size_t r, const T* dq, const T* vars, const T* soft,
                                            const T* probs, const T* dpbar, bool through_codes, T inv_tau,
                                            T* dlogits) {
  const std::size_t v_count = d.codes;
  const std::size_t n = r / d.groups;
  const std::size_t g = r % d.groups;
  T* dl = dlogits + r * v_count;
  for (std::size_t v = 0; v < v_count; ++v) dl[v] = T(0);
  if (through_codes) {
    nn::detail::gumbel_straight_through_row(dq + n * d.vq_dim() + g * d.width, vars + g * v_count * d.width,
                                            soft + r * v_count, inv_tau, dl, v_count, d.width);
  }
  if (dpbar != nullptr) nn::detail::gumbel_probs_gradient_row(probs + r * v_count, dpbar + g * v_count, dl, v_count);
}

// ---- diversity_loss<T, cuda> (spec §4.2): logits, probs, grad: [positions, G·V].

/// Row r (= position*G + g) of probs = softmax(logits) over its V entries.
template <class T>
ECGSSL_HOST_DEVICE void diversity_softmax_row(std::size_t r, std::size_t v_count, const T* logits, T* probs) {
  gumbel_softmax_row(logits + r * v_count, probs + r * v_count, v_count, T(1));
}

/// p̄ entry c of [G·V]: the mean over positions of probs[:, c], summed in position order in double.
template <class T>
ECGSSL_HOST_DEVICE T diversity_mean_column(std::size_t c, std::size_t positions, std::size_t width, const T* probs) {
  double sum = 0;
  for (std::size_t n = 0; n < positions; ++n) sum += probs[n * width + c];
  return static_cast<T>(sum / static_cast<double>(positions));
}

/// Row r of grad += scale · p (a_g - Σ_v a_gv p_v), a = dL/dp̄ [G·V], g = r % G.
template <class T>
ECGSSL_HOST_DEVICE void diversity_gradient_row(std::size_t r, std::size_t groups, std::size_t v_count, const T* probs,
                                               const T* a, T scale, T* grad) {
  const T* p = probs + r * v_count;
  const T* ag = a + (r % groups) * v_count;
  T* out = grad + r * v_count;
  T dot = 0;
  for (std::size_t i = 0; i < v_count; ++i) dot += ag[i] * p[i];
  for (std::size_t i = 0; i < v_count; ++i) out[i] += scale * p[i] * (ag[i] - dot);
}

}  // namespace ecgssl::cuda_detail::gumbel

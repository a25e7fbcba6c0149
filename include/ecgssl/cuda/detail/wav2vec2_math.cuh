#pragma once
/// \file wav2vec2_math.cuh
/// The math of wav2vec2_contrastive<T, cuda> (spec §4.1) as ECGSSL_HOST_DEVICE functions and
/// gemm_plans with no CUDA dependency: one thread per masked frame builds its K+1 logits, the
/// softmax and its dcos row in the host loss's order (so each frame matches the host), the
/// norms' reductions use the fixed lane/tree shape of cmsc_math.cuh. Tested on the host by
/// tests/cuda/test_wav2vec2_math.cpp against wav2vec2_contrastive<T, host>.

#include <cstddef>
#include <cstdint>

#include "../../core/config.hpp"
#include "cmsc_math.cuh"
#include "gemm_plan.cuh"

namespace ecgssl::cuda_detail::w2v {

using cmsc::acc_t;
using cmsc::exp_of;
using cmsc::lanes;
using cmsc::log_of;

/// How identical negatives are recognised (identical_negatives as an int for device code).
enum identical_mode : int { by_value = 0, by_code = 1, keep = 2 };

/// Whether negative n of frame t (segment s) gets logit -inf: q rows equal in every
/// component (by_value), equal codes (by_code) or never (keep). qs: the segment's q [M, dim];
/// codes: the segment's codes [M] (by_code only).
template <class T>
ECGSSL_HOST_DEVICE bool same_target(int mode, const T* qs, const std::int64_t* codes, std::size_t t,
                                    std::size_t n, std::size_t dim) {
  if (mode == keep) return false;
  if (mode == by_code) return codes[t] == codes[n];
  const T* a = qs + t * dim;
  const T* b = qs + n * dim;
  for (std::size_t d = 0; d < dim; ++d) {
    if (a[d] != b[d]) return false;
  }
  return true;
}

/// Frame t of segment s: probs[0..K] = softmax(ℓ), ℓ_0 = cos(t, t)/κ, ℓ_{j+1} = cos(t, n_j)/κ or
/// -inf; returns the frame loss lse - ℓ_0. cos: the segment's [M, M]; neg: the frame's K
/// indices. Same order of operations as the host loss.
template <class T>
ECGSSL_HOST_DEVICE T frame_forward(const T* cos, const std::int64_t* neg, std::size_t masked, std::size_t k,
                                   std::size_t t, T inv_kappa, int mode, const T* qs, const std::int64_t* codes,
                                   std::size_t dim, T* probs) {
  const T minus_inf = -static_cast<T>(INFINITY);
  probs[0] = cos[t * masked + t] * inv_kappa;
  for (std::size_t j = 0; j < k; ++j) {
    const auto n = static_cast<std::size_t>(neg[j]);
    probs[j + 1] = same_target(mode, qs, codes, t, n, dim) ? minus_inf : cos[t * masked + n] * inv_kappa;
  }
  T top = minus_inf;
  for (std::size_t j = 0; j <= k; ++j) top = probs[j] > top ? probs[j] : top;
  T sum = 0;
  for (std::size_t j = 0; j <= k; ++j) sum += exp_of(probs[j] - top);
  const T lse = top + log_of(sum);
  const T loss = lse - probs[0];
  for (std::size_t j = 0; j <= k; ++j) probs[j] = exp_of(probs[j] - lse);
  return loss;
}

/// Row t of the segment's dcos [M, M] (overwritten): scale (p_0 - 1) at (t, t), + scale p_{j+1}
/// at (t, n_j) in j order (repeated negatives add up).
template <class T>
ECGSSL_HOST_DEVICE void frame_dcos(const T* probs, const std::int64_t* neg, std::size_t masked, std::size_t k,
                                   std::size_t t, T scale, T* dcos) {
  T* row = dcos + t * masked;
  for (std::size_t n = 0; n < masked; ++n) row[n] = T(0);
  row[t] += scale * (probs[0] - T(1));
  for (std::size_t j = 0; j < k; ++j) row[static_cast<std::size_t>(neg[j])] += scale * probs[j + 1];
}

/// Lane `lane`'s partial x̂·d over c = lane, lane + lanes, ... (in acc_t<T>).
template <class T>
ECGSSL_HOST_DEVICE acc_t<T> lane_dot(const T* a, const T* b, std::size_t dim, unsigned lane) {
  acc_t<T> sum = 0;
  for (std::size_t c = lane; c < dim; c += lanes) sum += static_cast<acc_t<T>>(a[c]) * b[c];
  return sum;
}

/// The differentiated normalisation's backward for one component: (d - x̂ proj)/‖x‖ when
/// ‖x‖ > eps, else d / max(‖x‖, eps) (the host's normalize_rows_backward).
template <class T>
ECGSSL_HOST_DEVICE T normalize_backward(T d, T x_hat, T proj, T norm, T eps) {
  if (!(norm > eps)) return d * (T(1) / (norm > eps ? norm : eps));
  return (d - x_hat * proj) * (T(1) / norm);
}

// ---- per-segment GEMMs (strided-batched over S segments), row-major c_hat, q_hat [S, M, dim] ---

/// cos_s = ĉ_s q̂_sᵀ as cos_sᵀ[M, M] = q̂_s ĉ_sᵀ. A = q_hat, B = c_hat, C = cos.
inline gemm_plan cosines_plan(std::int64_t segments, std::int64_t masked, std::int64_t dim) {
  gemm_plan p;
  p.transpose_a = true;
  p.m = masked, p.n = masked, p.k = dim;
  p.lda = dim, p.ldb = dim, p.ldc = masked;
  p.stride_a = p.stride_b = masked * dim;
  p.stride_c = masked * masked;
  p.batch = segments;
  return p;
}
/// dĉ_s = dcos_s q̂_s as dĉ_sᵀ[dim, M] = q̂_sᵀ dcos_sᵀ. A = q_hat, B = dcos, C = dc_hat.
inline gemm_plan prediction_grad_plan(std::int64_t segments, std::int64_t masked, std::int64_t dim) {
  gemm_plan p;
  p.m = dim, p.n = masked, p.k = masked;
  p.lda = dim, p.ldb = masked, p.ldc = dim;
  p.stride_a = p.stride_c = masked * dim;
  p.stride_b = masked * masked;
  p.batch = segments;
  return p;
}
/// dq̂_s = dcos_sᵀ ĉ_s as dq̂_sᵀ[dim, M] = ĉ_sᵀ dcos_s. A = c_hat, B = dcos, C = dq_hat.
inline gemm_plan target_grad_plan(std::int64_t segments, std::int64_t masked, std::int64_t dim) {
  gemm_plan p = prediction_grad_plan(segments, masked, dim);
  p.transpose_b = true;
  return p;
}

}  // namespace ecgssl::cuda_detail::w2v

#pragma once
/// \file cmsc_math.cuh
/// The math of cmsc_loss<T, cuda> (spec §4.3, cross-segment form) as ECGSSL_HOST_DEVICE
/// functions and gemm_plans with no CUDA dependency: the kernels of cuda/cmsc_loss.cuh call
/// them per element or per lane, and tests/cuda/test_cmsc_math.cpp runs the same functions on
/// the host (with the kernels' fixed lane/tree reduction order and run_on_host for the GEMMs)
/// against the host cmsc_loss. Every reduction has a fixed shape (`lanes` partial sums combined
/// by a fixed tree), so results do not depend on scheduling (no atomics).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../core/config.hpp"
#include "gemm_plan.cuh"

namespace ecgssl::cuda_detail::cmsc {

/// Threads per block of the per-row (and per-column) reduction kernels; a power of two.
inline constexpr unsigned lanes = 256;

/// Sums of float values are kept in double (as the host's accumulator_t).
template <class T>
using acc_t = std::conditional_t<std::is_same_v<T, float>, double, T>;

ECGSSL_HOST_DEVICE inline float exp_of(float x) { return ::expf(x); }
ECGSSL_HOST_DEVICE inline double exp_of(double x) { return ::exp(x); }
ECGSSL_HOST_DEVICE inline float log_of(float x) { return ::logf(x); }
ECGSSL_HOST_DEVICE inline double log_of(double x) { return ::log(x); }
ECGSSL_HOST_DEVICE inline float sqrt_of(float x) { return ::sqrtf(x); }
ECGSSL_HOST_DEVICE inline double sqrt_of(double x) { return ::sqrt(x); }

// ---- non-zero-count temporal mean pool: x [segments, frames, dim] -> g, counts [segments, dim]

/// g[s, d] = Σ_t x[s, t, d] / #{t : x != 0} (divisor 1 for an all-zero column), summed over t
/// in order in T as the host's nonzero_mean_pool.
template <class T>
ECGSSL_HOST_DEVICE void pool_column(const T* x, std::size_t frames, std::size_t dim, std::size_t s,
                                    std::size_t d, T* g, T* count) {
  T sum = T(0);
  T nonzero = T(0);
  for (std::size_t t = 0; t < frames; ++t) {
    const T v = x[(s * frames + t) * dim + d];
    sum += v;
    nonzero += v != T(0) ? T(1) : T(0);
  }
  if (nonzero == T(0)) nonzero = T(1);
  *g = sum / nonzero;
  *count = nonzero;
}

/// dx[s, t, d] += dpooled[s, d] / counts[s, d] for every t.
template <class T>
ECGSSL_HOST_DEVICE T pool_gradient(T dpooled, T count) {
  return dpooled / count;
}

// ---- stacking [A; B] and detached-norm normalisation: hat [2N, dim], norms [2N] ---------------

/// Batch row of stacked row r: A rows (segment 0) first, then B rows (segment 1).
ECGSSL_HOST_DEVICE inline std::int64_t stacked_source(std::size_t r, std::size_t n,
                                                      const std::int64_t* first,
                                                      const std::int64_t* second) {
  return r < n ? first[r] : second[r - n];
}

/// Lane `lane`'s partial Σ x_c² over c = lane, lane + lanes, ... (in acc_t<T>).
template <class T>
ECGSSL_HOST_DEVICE acc_t<T> lane_sum_of_squares(const T* row, std::size_t dim, unsigned lane) {
  acc_t<T> sum = 0;
  for (std::size_t c = lane; c < dim; c += lanes) sum += static_cast<acc_t<T>>(row[c]) * row[c];
  return sum;
}

/// ‖x‖ from the reduced sum of squares, rounded to T as the host does.
template <class T>
ECGSSL_HOST_DEVICE T norm_from(acc_t<T> sum_of_squares) {
  return static_cast<T>(sqrt_of(sum_of_squares));
}

/// 1 / max(‖x‖, eps): the forward scale and, the norm being detached, the backward one.
template <class T>
ECGSSL_HOST_DEVICE T inverse_norm(T norm, T eps) {
  return T(1) / (norm > eps ? norm : eps);
}

// ---- softmax along a line of Λ [N, N]: a row (stride 1) or a column (stride N) ---------------

/// Lane `lane`'s partial max of line[k * stride], k = lane, lane + lanes, ... < count;
/// -infinity for a lane with no element.
template <class T>
ECGSSL_HOST_DEVICE T lane_max(const T* line, std::size_t count, std::size_t stride, unsigned lane) {
  T top = -static_cast<T>(INFINITY);
  for (std::size_t k = lane; k < count; k += lanes) {
    const T v = line[k * stride];
    top = v > top ? v : top;
  }
  return top;
}

/// Lane `lane`'s partial Σ exp(line[k * stride] - top) (in acc_t<T>).
template <class T>
ECGSSL_HOST_DEVICE acc_t<T> lane_exp_sum(const T* line, std::size_t count, std::size_t stride, T top,
                                         unsigned lane) {
  acc_t<T> sum = 0;
  for (std::size_t k = lane; k < count; k += lanes) sum += exp_of(line[k * stride] - top);
  return sum;
}

/// log Σ exp(v) = top + log Σ exp(v - top).
template <class T>
ECGSSL_HOST_DEVICE T log_sum_exp_from(T top, acc_t<T> exp_sum) {
  return top + static_cast<T>(log_of(exp_sum));
}

/// softmax entry exp(l - lse).
template <class T>
ECGSSL_HOST_DEVICE T probability(T logit, T lse) {
  return exp_of(logit - lse);
}

// ---- loss and its gradient with respect to Λ ---------------------------------------------------

/// Lane `lane`'s partial sums over the positive entries e = i N + j (e = lane, lane + lanes, ...)
/// of the row terms (lse_row_i - Λ_ij) and column terms (lse_col_j - Λ_ij); per_row_mean weights
/// them by 1/r_i and 1/c_j (positives in row i / column j). Sums in acc_t<T>.
template <class T>
ECGSSL_HOST_DEVICE void lane_positive_terms(const T* logits, const T* positive, const T* row_lse,
                                            const T* col_lse, const T* row_pos, const T* col_pos,
                                            bool all_positives, std::size_t n, unsigned lane,
                                            acc_t<T>* row_sum, acc_t<T>* col_sum) {
  acc_t<T> rs = 0;
  acc_t<T> cs = 0;
  for (std::size_t e = lane; e < n * n; e += lanes) {
    if (positive[e] == T(0)) continue;
    const std::size_t i = e / n;
    const std::size_t j = e % n;
    const acc_t<T> row_term = static_cast<acc_t<T>>(row_lse[i]) - logits[e];
    const acc_t<T> col_term = static_cast<acc_t<T>>(col_lse[j]) - logits[e];
    if (all_positives) {
      rs += row_term;
      cs += col_term;
    } else {
      rs += row_term / row_pos[i];
      cs += col_term / col_pos[j];
    }
  }
  *row_sum = rs;
  *col_sum = cs;
}

/// L = ½ row_sum / p + ½ col_sum / p, p = |P| (all_positives) or N (per_row_mean).
template <class T>
ECGSSL_HOST_DEVICE T loss_from(acc_t<T> row_sum, acc_t<T> col_sum, acc_t<T> p) {
  return static_cast<T>(0.5 * (row_sum / p) + 0.5 * (col_sum / p));
}

/// dL/dΛ_ij times upstream; half = upstream / 2 / p.
/// all_positives: half (r_i softmax_row_ij - P_ij) + half (c_j softmax_col_ij - P_ij);
/// per_row_mean:  half (softmax_row_ij - P_ij / r_i) + half (softmax_col_ij - P_ij / c_j).
template <class T>
ECGSSL_HOST_DEVICE T dlogit(bool all_positives, T half, T positive, T row_pos, T col_pos, T row_prob,
                            T col_prob) {
  return all_positives ? half * (row_pos * row_prob - positive) + half * (col_pos * col_prob - positive)
                       : half * (row_prob - positive / row_pos) + half * (col_prob - positive / col_pos);
}

// ---- the three GEMMs (row-major Â = hat rows [0, N), B̂ = hat rows [N, 2N)) -------------------

/// Λ = Â B̂ᵀ (alpha 1/τ) as Λᵀ[N, N] = B̂ Âᵀ. A operand = hat, B operand = hat, C = logits.
inline gemm_plan logits_plan(std::int64_t n, std::int64_t dim) {
  gemm_plan p;
  p.transpose_a = true;
  p.m = n, p.n = n, p.k = dim;
  p.lda = dim, p.ldb = dim, p.ldc = n;
  p.offset_a = n * dim;
  return p;
}
/// dÂ = dΛ B̂ (alpha 1/τ) as dÂᵀ[dim, N] = B̂ᵀ dΛᵀ. A = hat, B = dlogits, C = d_hat.
inline gemm_plan hat_a_grad_plan(std::int64_t n, std::int64_t dim) {
  gemm_plan p;
  p.m = dim, p.n = n, p.k = n;
  p.lda = dim, p.ldb = n, p.ldc = dim;
  p.offset_a = n * dim;
  return p;
}
/// dB̂ = dΛᵀ Â (alpha 1/τ) as dB̂ᵀ[dim, N] = Âᵀ dΛ. A = hat, B = dlogits, C = d_hat.
inline gemm_plan hat_b_grad_plan(std::int64_t n, std::int64_t dim) {
  gemm_plan p;
  p.transpose_b = true;
  p.m = dim, p.n = n, p.k = n;
  p.lda = dim, p.ldb = n, p.ldc = dim;
  p.offset_c = n * dim;
  return p;
}

}  // namespace ecgssl::cuda_detail::cmsc

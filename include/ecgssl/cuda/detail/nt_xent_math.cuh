#pragma once
/// \file nt_xent_math.cuh
/// The math of nt_xent<T, cuda> (spec §4.5) as ECGSSL_HOST_DEVICE functions and gemm_plans with
/// no CUDA dependency: one block of `lanes` threads per row i of s = ẑẑᵀ/τ computes the row's
/// max, negative sum, positive-pair loss and dL/ds row with the fixed lane/tree reductions of
/// cmsc_math.cuh. Tested on the host by tests/cuda/test_nt_xent_math.cpp against
/// nt_xent<T, host>.

#include <cstddef>
#include <cstdint>

#include "../../core/config.hpp"
#include "cmsc_math.cuh"
#include "gemm_plan.cuh"
#include "wav2vec2_math.cuh"

namespace ecgssl::cuda_detail::ntx {

using cmsc::acc_t;
using cmsc::exp_of;
using cmsc::lanes;
using cmsc::log_of;

/// Lane `lane`'s partial max of s_ik over k != i (k = lane, lane + lanes, ... < rows); -infinity
/// for a lane with no such k.
template <class T>
ECGSSL_HOST_DEVICE T lane_row_max(const T* s, std::size_t rows, std::size_t i, unsigned lane) {
  T top = -static_cast<T>(INFINITY);
  for (std::size_t k = lane; k < rows; k += lanes) {
    if (k != i && s[k] > top) top = s[k];
  }
  return top;
}

/// Lane `lane`'s partial Σ exp(s_ik - top) over the negatives k of row i (identity != id_i).
template <class T>
ECGSSL_HOST_DEVICE acc_t<T> lane_negative_sum(const T* s, const std::int64_t* ids, std::size_t rows, std::size_t i,
                                              T top, unsigned lane) {
  acc_t<T> sum = 0;
  for (std::size_t k = lane; k < rows; k += lanes) {
    if (k != i && ids[k] != ids[i]) sum += exp_of(s[k] - top);
  }
  return sum;
}

/// Lane `lane`'s partial sums over the positives j of row i (j != i, id_j = id_i) of the pair
/// losses log(D_ij) + top - s_ij and of 1/D_ij, D_ij = exp(s_ij - top) + negatives.
template <class T>
ECGSSL_HOST_DEVICE void lane_positive_terms(const T* s, const std::int64_t* ids, std::size_t rows, std::size_t i,
                                            T top, T negatives, unsigned lane, acc_t<T>* loss,
                                            acc_t<T>* inverse_sum) {
  acc_t<T> l = 0;
  acc_t<T> inv = 0;
  for (std::size_t j = lane; j < rows; j += lanes) {
    if (j == i || ids[j] != ids[i]) continue;
    const T d = exp_of(s[j] - top) + negatives;
    l += static_cast<acc_t<T>>(log_of(d) + top - s[j]);
    inv += static_cast<acc_t<T>>(T(1) / d);
  }
  *loss = l;
  *inverse_sum = inv;
}

/// dL/ds_ik before the 1/P scale: 0 on the diagonal, exp(s_ik - top)·Σ_j 1/D_ij for a
/// negative k, exp(s_ik - top)/D_ik - 1 for a positive k.
template <class T>
ECGSSL_HOST_DEVICE T dsim_entry(T s_ik, T top, T negatives, T inverse_sum, bool self, bool negative) {
  if (self) return T(0);
  const T e = exp_of(s_ik - top);
  return negative ? e * inverse_sum : e / (e + negatives) - T(1);
}

/// The detached-norm backward of one component: d / max(‖z‖, eps).
template <class T>
ECGSSL_HOST_DEVICE T detached_normalize_backward(T d, T norm, T eps) {
  return d * cmsc::inverse_norm(norm, eps);
}

// ---- GEMMs on row-major ẑ [rows, dim] and ds [rows, rows] (one "segment" of the wav2vec2 plans)

/// s = ẑẑᵀ (alpha 1/τ). A = z_hat, B = z_hat, C = sim.
inline gemm_plan similarity_plan(std::int64_t rows, std::int64_t dim) { return w2v::cosines_plan(1, rows, dim); }
/// dẑ (+)= ds ẑ (alpha scale). A = z_hat, B = dsim, C = d_hat.
inline gemm_plan hat_grad_plan(std::int64_t rows, std::int64_t dim) { return w2v::prediction_grad_plan(1, rows, dim); }
/// dẑ (+)= dsᵀ ẑ (alpha scale). A = z_hat, B = dsim, C = d_hat.
inline gemm_plan hat_grad_transposed_plan(std::int64_t rows, std::int64_t dim) {
  return w2v::target_grad_plan(1, rows, dim);
}

}  // namespace ecgssl::cuda_detail::ntx

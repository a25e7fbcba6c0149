#pragma once
/// \file arcface_math.cuh
/// The math of arcface<T, cuda> (spec §6.3) as ECGSSL_HOST_DEVICE functions and gemm_plans with
/// no CUDA dependency: one block of `lanes` threads per batch row builds the margin logits, the
/// softmax and the row loss with the fixed lane/tree reductions of cmsc_math.cuh; dcos is one
/// thread per entry. The three products are the linear layer's plans (ê ŵᵀ is a bias-free
/// linear map of ê by ŵ). Tested on the host by tests/cuda/test_arcface_math.cpp against
/// arcface<T, host>.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>

#include "../../core/config.hpp"
#include "cmsc_math.cuh"
#include "gemm_plan.cuh"

namespace ecgssl::cuda_detail::arc {

using cmsc::acc_t;
using cmsc::exp_of;
using cmsc::lanes;
using cmsc::log_of;
using cmsc::sqrt_of;

/// The margin's constants, computed on the host in double and rounded to T as the host loss.
template <class T>
struct margin_constants {
  T scale, cos_m, sin_m, threshold, fallback;
};
template <class T>
margin_constants<T> make_margin_constants(double scale, double margin) {
  return {static_cast<T>(scale), static_cast<T>(std::cos(margin)), static_cast<T>(std::sin(margin)),
          static_cast<T>(std::cos(std::numbers::pi - margin)),
          static_cast<T>(std::sin(std::numbers::pi - margin) * margin)};
}

template <class T>
ECGSSL_HOST_DEVICE T clamp_cosine(T c) {
  return c < T(-1) ? T(-1) : (c > T(1) ? T(1) : c);
}

/// The target's margin cosine φ(cosθ) and dφ/dcosθ from the raw cosine: cos(θ+m) above the
/// threshold cos(π-m), else cosθ - m·sin m; at |cosθ| = 1 only the finite part of dφ is kept.
template <class T>
ECGSSL_HOST_DEVICE void target_margin(T c_raw, const margin_constants<T>& k, T* phi, T* dphi) {
  const T c = clamp_cosine(c_raw);
  if (c > k.threshold) {
    const T sine_sq = T(1) - c * c;
    const T sine = sqrt_of(sine_sq < T(0) ? T(0) : (sine_sq > T(1) ? T(1) : sine_sq));
    *phi = c * k.cos_m - sine * k.sin_m;
    *dphi = k.cos_m + (sine > T(0) ? c * k.sin_m / sine : T(0));
  } else {
    *phi = c - k.fallback;
    *dphi = T(1);
  }
}

/// Logit of class j in a row whose target is y with margin cosine phi: s·φ or s·clamp(cos).
template <class T>
ECGSSL_HOST_DEVICE T logit(std::size_t j, std::size_t y, T c_raw, T phi, T scale) {
  return j == y ? scale * phi : scale * clamp_cosine(c_raw);
}

/// Lane `lane`'s partial max of the row's logits (j = lane, lane + lanes, ... < classes).
template <class T>
ECGSSL_HOST_DEVICE T lane_logit_max(const T* cos_row, std::size_t classes, std::size_t y, T phi, T scale,
                                    unsigned lane) {
  T top = -static_cast<T>(INFINITY);
  for (std::size_t j = lane; j < classes; j += lanes) {
    const T z = logit(j, y, cos_row[j], phi, scale);
    top = z > top ? z : top;
  }
  return top;
}

/// Lane `lane`'s partial Σ exp(z_j - top) (in acc_t<T>).
template <class T>
ECGSSL_HOST_DEVICE acc_t<T> lane_logit_exp_sum(const T* cos_row, std::size_t classes, std::size_t y, T phi,
                                               T scale, T top, unsigned lane) {
  acc_t<T> sum = 0;
  for (std::size_t j = lane; j < classes; j += lanes) sum += exp_of(logit(j, y, cos_row[j], phi, scale) - top);
  return sum;
}

/// Row loss top + log Σ exp(z - top) - z_y.
template <class T>
ECGSSL_HOST_DEVICE T row_loss(T top, acc_t<T> exp_sum, T phi, T scale) {
  return top + log_of(static_cast<T>(exp_sum)) - scale * phi;
}

/// softmax entry exp(z_j - top) · (1 / Σ).
template <class T>
ECGSSL_HOST_DEVICE T probability(T z, T top, acc_t<T> exp_sum) {
  return exp_of(z - top) * (T(1) / static_cast<T>(exp_sum));
}

/// dL/dcos_bj times upstream; scale_all = upstream·s/batch. Zero where the clamp was active.
template <class T>
ECGSSL_HOST_DEVICE T dcos_entry(T p, T c_raw, bool target, T dphi, T scale_all) {
  if (c_raw < T(-1) || c_raw > T(1)) return T(0);
  return target ? scale_all * (p - T(1)) * dphi : scale_all * p;
}

// ---- GEMMs on row-major ê [batch, dim], ŵ [classes, dim], cos/dcos [batch, classes] -----------

/// cos = ê ŵᵀ. A = w_hat, B = e_hat, C = cos.
inline gemm_plan cosines_plan(std::int64_t batch, std::int64_t dim, std::int64_t classes) {
  return linear_forward_plan(batch, dim, classes);
}
/// dê = dcos ŵ (beta 0). A = w_hat, B = dcos, C = d_hat.
inline gemm_plan embedding_grad_plan(std::int64_t batch, std::int64_t dim, std::int64_t classes) {
  return linear_input_grad_plan(batch, dim, classes);
}
/// dŵ = dcosᵀ ê (beta 0). A = e_hat, B = dcos, C = d_weight_hat.
inline gemm_plan weight_grad_plan(std::int64_t batch, std::int64_t dim, std::int64_t classes) {
  return linear_weight_grad_plan(batch, dim, classes);
}

}  // namespace ecgssl::cuda_detail::arc

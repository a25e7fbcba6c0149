#pragma once
/// \file pos_conv_math.cuh
/// Index arithmetic and cuBLAS plans of the CUDA pos_conv (spec §3.6), with no CUDA dependency:
/// the kernels in cuda/pos_conv_kernels.cuh call these per element, and the host test
/// (tests/cuda/test_pos_conv_math.cpp) runs the same functions plus run_on_host to replay the
/// whole device algorithm against the host twin, on machines without a GPU.
///
/// Layouts (row-major):
///   x, pre, y:   [batch, time, dim]                      channel c = g*dg + i
///   weight_v:    [dim, dg, kernel]                       v[(o*dg + i)*K + j]
///   w (effective): [groups][dg out][kernel][dg in]       w[o*K*dg + j*dg + i], o = g*dg + oo
///   cols:        [chunk, time, groups, kernel*dg]        cols[b, t, g, j*dg + i] = x[b, t + j - K/2, g*dg + i]
/// so group g of a chunk is the row-major matrix cols_g [chunk*time, K*dg] with row stride
/// dim*K, and Pre_g [chunk*time, dg] = cols_g W_g^T with W_g = w[g] as [dg, K*dg].

#include <cstdint>

#include "../../core/config.hpp"
#include "gemm_plan.cuh"

namespace ecgssl::cuda_detail {

/// pos_conv geometry as signed integers usable in device code.
struct pos_conv_dims {
  std::int64_t batch = 0, time = 0, dim = 0, groups = 1, kernel = 2;
  ECGSSL_HOST_DEVICE std::int64_t dg() const { return dim / groups; }
  /// Columns of one group's im2col matrix: (tap, input channel) pairs.
  ECGSSL_HOST_DEVICE std::int64_t patch() const { return kernel * dg(); }
  /// Elements of one sample's im2col rows (all groups).
  ECGSSL_HOST_DEVICE std::int64_t cols_per_sample() const { return time * dim * kernel; }
};

/// Element e of a chunk's cols (sample b0 + e / cols_per_sample): its source in x, or -1 when
/// it falls in the zero padding. Output frame t reads frame t + j - K/2 through tap j.
ECGSSL_HOST_DEVICE inline std::int64_t pos_conv_im2col_source(const pos_conv_dims& d, std::int64_t b0,
                                                              std::int64_t e) {
  const std::int64_t dg = d.dg();
  const std::int64_t i = e % dg;
  const std::int64_t j = (e / dg) % d.kernel;
  const std::int64_t g = (e / d.patch()) % d.groups;
  const std::int64_t t = (e / (d.dim * d.kernel)) % d.time;
  const std::int64_t b = e / d.cols_per_sample();
  const std::int64_t s = t + j - d.kernel / 2;
  if (s < 0 || s >= d.time) return -1;
  return ((b0 + b) * d.time + s) * d.dim + g * dg + i;
}

/// Gather form of col2im (no atomics): for element e of a chunk's dx ([chunk, time, dim]) and
/// tap j, the dcols element that tap j of output frame t = s + K/2 - j wrote there, or -1 when
/// that frame does not exist.
ECGSSL_HOST_DEVICE inline std::int64_t pos_conv_col2im_source(const pos_conv_dims& d, std::int64_t e,
                                                              std::int64_t j) {
  const std::int64_t dg = d.dg();
  const std::int64_t c = e % d.dim;
  const std::int64_t s = (e / d.dim) % d.time;
  const std::int64_t b = e / (d.time * d.dim);
  const std::int64_t t = s + d.kernel / 2 - j;
  if (t < 0 || t >= d.time) return -1;
  return (b * d.time + t) * d.dim * d.kernel + (c / dg) * d.patch() + j * dg + c % dg;
}

/// Index in w of weight_v row r = o*dg + i, tap j.
ECGSSL_HOST_DEVICE inline std::int64_t pos_conv_weight_index(const pos_conv_dims& d, std::int64_t r,
                                                             std::int64_t j) {
  const std::int64_t dg = d.dg();
  return (r / dg) * d.patch() + j * dg + r % dg;
}

/// Index in weight_v of element e of w (and its tap is (e / dg) % K).
ECGSSL_HOST_DEVICE inline std::int64_t pos_conv_v_index(const pos_conv_dims& d, std::int64_t e) {
  const std::int64_t dg = d.dg();
  const std::int64_t i = e % dg;
  const std::int64_t j = (e / dg) % d.kernel;
  const std::int64_t o = e / d.patch();
  return (o * dg + i) * d.kernel + j;
}

/// Lane `lane` of `lanes`' share of tap j's sum over the dim*dg rows of weight_v:
/// sum v^2 (w == nullptr) or sum w.v (w in the effective-weight layout), rows lane, lane +
/// lanes, ... in order. The lanes' shares are then added by a fixed tree, so the result is
/// deterministic.
template <class Acc, class T>
ECGSSL_HOST_DEVICE Acc pos_conv_tap_partial(const pos_conv_dims& d, const T* v, const T* w, std::int64_t j,
                                            std::int64_t lane, std::int64_t lanes) {
  Acc sum = 0;
  const std::int64_t rows = d.dim * d.dg();
  for (std::int64_t r = lane; r < rows; r += lanes) {
    const T vv = v[r * d.kernel + j];
    const T other = w == nullptr ? vv : w[pos_conv_weight_index(d, r, j)];
    sum += static_cast<Acc>(other) * vv;
  }
  return sum;
}

/// Samples per chunk so that the cols workspace stays within max_elements (at least one).
inline std::int64_t pos_conv_chunk(const pos_conv_dims& d, std::int64_t max_elements) {
  const std::int64_t per = d.cols_per_sample() > 0 ? d.cols_per_sample() : 1;
  std::int64_t n = max_elements / per;
  if (n < 1) n = 1;
  if (n > d.batch) n = d.batch > 0 ? d.batch : 1;
  return n;
}

/// Pre_g[n*time, dg] = cols_g[n*time, K*dg] W_g^T for samples b0 .. b0+n-1, all groups batched,
/// as Pre_g^T[dg, rows] = W_g[dg, K*dg] cols_g^T. A = w, B = cols (chunk), C = pre.
inline gemm_plan pos_conv_forward_plan(const pos_conv_dims& d, std::int64_t b0, std::int64_t n) {
  gemm_plan p;
  p.transpose_a = true;
  p.m = d.dg(), p.n = n * d.time, p.k = d.patch();
  p.lda = d.patch(), p.ldb = d.dim * d.kernel, p.ldc = d.dim;
  p.stride_a = d.dg() * d.patch();
  p.stride_b = d.patch();
  p.offset_c = b0 * d.time * d.dim;
  p.stride_c = d.dg();
  p.batch = d.groups;
  return p;
}

/// dW_g[dg, K*dg] (+)= dPre_g^T cols_g over a chunk, as dW_g^T[K*dg, dg] = cols_g^T dPre_g.
/// A = cols (chunk), B = dpre, C = grad_w (effective-weight layout).
inline gemm_plan pos_conv_weight_grad_plan(const pos_conv_dims& d, std::int64_t b0, std::int64_t n) {
  gemm_plan p;
  p.transpose_b = true;
  p.m = d.patch(), p.n = d.dg(), p.k = n * d.time;
  p.lda = d.dim * d.kernel, p.ldb = d.dim, p.ldc = d.patch();
  p.stride_a = d.patch();
  p.offset_b = b0 * d.time * d.dim;
  p.stride_b = d.dg();
  p.stride_c = d.dg() * d.patch();
  p.batch = d.groups;
  return p;
}

/// dcols_g[n*time, K*dg] = dPre_g W_g, as dcols_g^T[K*dg, rows] = W_g^T dPre_g^T.
/// A = w, B = dpre, C = dcols (chunk, cols layout).
inline gemm_plan pos_conv_cols_grad_plan(const pos_conv_dims& d, std::int64_t b0, std::int64_t n) {
  gemm_plan p;
  p.m = d.patch(), p.n = n * d.time, p.k = d.dg();
  p.lda = d.patch(), p.ldb = d.dim, p.ldc = d.dim * d.kernel;
  p.stride_a = d.dg() * d.patch();
  p.offset_b = b0 * d.time * d.dim;
  p.stride_b = d.dg();
  p.stride_c = d.patch();
  p.batch = d.groups;
  return p;
}

}  // namespace ecgssl::cuda_detail

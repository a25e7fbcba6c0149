#pragma once
/// \file gumbel_quantizer_kernels.cuh
/// CUDA twin of implementation<nn::detail::gumbel_quantizer_op, host> (spec §3.8): the same
/// signature over DEVICE pointers (except `rng`, a host pointer whose stream is passed to the
/// kernel by value, so the device draws the host's Philox Gumbel noise bit for bit). One thread
/// per (position, group) row for the selection and the logits gradient, one per (group, code)
/// column for the perplexity statistics (positions summed in order, in double), one per element
/// for the code lookup and the vars gradient (positions added in order). No atomics: the results
/// are deterministic. The per-element math is detail/gumbel_math.cuh (tested on the host).
/// Include it, with device_tensor.cuh, device_parameters.cuh and linear_kernels.cuh, to use
/// nn::gumbel_quantizer<T, cuda>.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "../core/backend.hpp"
#include "../core/philox.hpp"
#include "../nn/detail/gumbel_quantizer_kernels.hpp"
#include "detail/gumbel_math.cuh"
#include "detail/launch.cuh"

namespace ecgssl::cuda_detail {

template <class T>
__global__ void gumbel_select(gumbel::dims d, const T* logits, const T* noise, random_stream rng, bool noisy,
                              T inv_tau, T* probs, T* soft, std::int64_t* hard, std::int64_t* codes) {
  ECGSSL_GRID_STRIDE_LOOP(r, d.rows()) {
    gumbel::select_row(d, r, logits, noise, rng, noisy, inv_tau, probs, soft, hard, codes);
  }
}

template <class T>
__global__ void gumbel_statistics(gumbel::dims d, const T* probs, const std::int64_t* hard, double* stats) {
  ECGSSL_GRID_STRIDE_LOOP(c, d.row_width()) { gumbel::statistics_column(d, c, probs, hard, stats); }
}

template <class T>
__global__ void gumbel_lookup(gumbel::dims d, const std::int64_t* codes, const T* vars, T* q) {
  ECGSSL_GRID_STRIDE_LOOP(e, d.positions * d.vq_dim()) { q[e] = gumbel::lookup(d, e, codes, vars); }
}

template <class T>
__global__ void gumbel_vars_backward(gumbel::dims d, const T* dq, const std::int64_t* codes, T* dvars) {
  ECGSSL_GRID_STRIDE_LOOP(e, d.row_width() * d.width) { gumbel::vars_gradient(d, e, dq, codes, dvars); }
}

template <class T>
__global__ void gumbel_logits_backward(gumbel::dims d, const T* dq, const T* vars, const T* soft, const T* probs,
                                       const T* dpbar, bool through_codes, T inv_tau, T* dlogits) {
  ECGSSL_GRID_STRIDE_LOOP(r, d.rows()) {
    gumbel::logits_gradient_row(d, r, dq, vars, soft, probs, dpbar, through_codes, inv_tau, dlogits);
  }
}

}  // namespace ecgssl::cuda_detail

namespace ecgssl {

template <>
struct implementation<nn::detail::gumbel_quantizer_op, cuda> {
  template <class T>
  static void select(const T* logits, const T* noise, const random_stream* rng, bool noisy, T inv_tau, T* probs,
                     T* soft, std::int64_t* hard, std::int64_t* codes, std::size_t n, std::size_t g_count,
                     std::size_t v_count) {
    const cuda_detail::gumbel::dims d{n, g_count, v_count, 0};
    if (d.rows() == 0) return;
    const random_stream stream = rng != nullptr ? *rng : random_stream(0, 0);  // unused with injected noise
    cuda_detail::gumbel_select<<<cuda_detail::grid_for(d.rows()), cuda_detail::block_size, 0,
                                 cuda_detail::stream()>>>(d, logits, noise, stream, noisy, inv_tau, probs, soft,
                                                          hard, codes);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  template <class T>
  static void statistics(const T* probs, const std::int64_t* hard, double* stats, std::size_t n,
                         std::size_t g_count, std::size_t v_count) {
    const cuda_detail::gumbel::dims d{n, g_count, v_count, 0};
    if (d.row_width() == 0) return;
    cuda_detail::gumbel_statistics<<<cuda_detail::grid_for(d.row_width()), cuda_detail::block_size, 0,
                                     cuda_detail::stream()>>>(d, probs, hard, stats);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  template <class T>
  static void lookup(const std::int64_t* codes, const T* vars, T* q, std::size_t n, std::size_t g_count,
                     std::size_t v_count, std::size_t width) {
    const cuda_detail::gumbel::dims d{n, g_count, v_count, width};
    if (n * d.vq_dim() == 0) return;
    cuda_detail::gumbel_lookup<<<cuda_detail::grid_for(n * d.vq_dim()), cuda_detail::block_size, 0,
                                 cuda_detail::stream()>>>(d, codes, vars, q);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  template <class T>
  static void vars_backward(const T* dq, const std::int64_t* codes, T* dvars, std::size_t n, std::size_t g_count,
                            std::size_t v_count, std::size_t width) {
    const cuda_detail::gumbel::dims d{n, g_count, v_count, width};
    const std::size_t count = d.row_width() * width;
    if (count == 0 || n == 0) return;
    cuda_detail::gumbel_vars_backward<<<cuda_detail::grid_for(count), cuda_detail::block_size, 0,
                                        cuda_detail::stream()>>>(d, dq, codes, dvars);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  template <class T>
  static void logits_backward(const T* dq, const T* vars, const T* soft, const T* probs, const T* dpbar,
                              bool through_codes, T inv_tau, T* dlogits, std::size_t n, std::size_t g_count,
                              std::size_t v_count, std::size_t width) {
    const cuda_detail::gumbel::dims d{n, g_count, v_count, width};
    if (d.rows() == 0) return;
    cuda_detail::gumbel_logits_backward<<<cuda_detail::grid_for(d.rows()), cuda_detail::block_size, 0,
                                          cuda_detail::stream()>>>(d, dq, vars, soft, probs, dpbar, through_codes,
                                                                   inv_tau, dlogits);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
};

}  // namespace ecgssl

#pragma once
/// \file attention_kernels.cuh
/// CUDA core of multi-head self-attention over the time axis (spec §3.7): per (sample, head)
/// S = Q K^T / sqrt(d_h), key padding -> -inf, P = softmax(S) per row, C = (P .* dropout) V,
/// with each GEMM as one cuBLAS pointer-array batched call over all batch x heads pairs (2 in
/// forward, 4 in backward; their gemm_plans and pointer arrays in detail/gemm_plan.cuh are
/// tested on the host) and the softmax and its backward as one block per row. The q/k/v/out
/// projections are implementation<linear_op, cuda>. nn::multi_head_attention<T, cuda> calls it;
/// the host layer does this work inline. The paper-era legacy_batch_axis layout is not supported.
///
/// Why pointer arrays: head h of sample b starts at b*T*D + h*dh in q/k/v/ctx [B, T, D], two
/// strides that one strided-batched call cannot express. Copying q, k, v to [B, H, T, dh] (and
/// ctx and the gradients back) would give one stride, but one such copy takes about 13 us (batch
/// 8) to 35 us (batch 32) on an H100 and a layer needs 8 or more, where the pointer arrays are
/// one tiny kernel per pass, skipped while the buffers stay put, and the calls read the
/// [B, T, D] operands in place (leading dimension D). Measured on an H100 at T 156, D 768, H 12:
/// the 6 GEMMs of a layer took 592 us (batch 8) and 728 us (batch 32) as 72 per-head
/// strided-batched calls, 119 us and 364 us as 6 pointer-array calls.

#include <cub/block/block_reduce.cuh>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "../core/backend.hpp"
#include "../core/threading.hpp"
#include "../nn/detail/attention_core.hpp"
#include "detail/launch.cuh"
#include "device_buffer.cuh"

namespace ecgssl::cuda_detail {

/// Shape of the attention core: q, k, v, ctx: [batch, time, dim], dim = heads * head_dim.
struct attention_geometry {
  std::size_t batch = 0;
  std::size_t time = 0;
  std::size_t dim = 0;
  std::size_t heads = 1;
  [[nodiscard]] std::size_t head_dim() const { return dim / heads; }
  /// Elements of the probabilities: [batch, heads, time, time].
  [[nodiscard]] std::size_t probs_size() const { return batch * heads * time * time; }
};

/// Device scratch: the dropped-out probabilities, the score gradients and the GEMMs' pointer
/// arrays (forward and backward apart, so that each stays filled across training steps).
template <class T>
struct attention_workspace {
  device_buffer<T> weighted;
  device_buffer<T> grad;
  gemm_pointer_arrays<T> forward_pointers;
  gemm_pointer_arrays<T> backward_pointers;
};

inline constexpr int softmax_block = 128;

struct max_of {
  template <class T>
  __device__ T operator()(const T& a, const T& b) const {
    return a < b ? b : a;
  }
};

template <class T>
__global__ void multiply_elements(const T* a, const T* b, T* out, std::size_t n) {
  ECGSSL_GRID_STRIDE_LOOP(i, n) { out[i] = a[i] * b[i]; }
}

// Row (b, h, i) of probs: [batch*heads*time, time], already holding the scaled scores.
template <class T>
__global__ void masked_softmax_rows(T* probs, const std::uint8_t* key_padding, std::int64_t heads,
                                    std::int64_t time) {
  using acc = accumulator_t<T>;
  using reduce_t = cub::BlockReduce<T, softmax_block>;
  using reduce_a = cub::BlockReduce<acc, softmax_block>;
  __shared__ union {
    typename reduce_t::TempStorage t;
    typename reduce_a::TempStorage a;
  } storage;
  __shared__ T shared_max;
  __shared__ acc shared_sum;
  const std::int64_t row = blockIdx.x;
  const std::int64_t b = row / (heads * time);
  T* p = probs + row * time;
  const std::uint8_t* pad = key_padding == nullptr ? nullptr : key_padding + b * time;
  T mx = -std::numeric_limits<T>::infinity();
  for (std::int64_t j = threadIdx.x; j < time; j += softmax_block) {
    if (pad != nullptr && pad[j] != 0) p[j] = -std::numeric_limits<T>::infinity();
    mx = p[j] > mx ? p[j] : mx;
  }
  mx = reduce_t(storage.t).Reduce(mx, max_of{});
  if (threadIdx.x == 0) shared_max = mx;
  __syncthreads();
  mx = shared_max;
  acc sum = 0;
  for (std::int64_t j = threadIdx.x; j < time; j += softmax_block) {
    const T e = exp_of(p[j] - mx);
    p[j] = e;
    sum += static_cast<acc>(e);
  }
  sum = reduce_a(storage.a).Sum(sum);
  if (threadIdx.x == 0) shared_sum = sum;
  __syncthreads();
  const T inv = static_cast<T>(acc(1) / shared_sum);
  for (std::int64_t j = threadIdx.x; j < time; j += softmax_block) p[j] *= inv;
}

// grad holds dP (w.r.t. the dropped-out probabilities); becomes dS = P .* (dP' - <dP', P>) * scale,
// dP' = dP .* dropout_scale.
template <class T>
__global__ void softmax_backward_rows(const T* probs, const T* dropout_scale, T* grad,
                                      std::int64_t time, T scale) {
  using acc = accumulator_t<T>;
  using reduce_a = cub::BlockReduce<acc, softmax_block>;
  __shared__ typename reduce_a::TempStorage storage;
  __shared__ acc shared_dot;
  const std::int64_t row = blockIdx.x;
  const T* p = probs + row * time;
  T* g = grad + row * time;
  const T* s = dropout_scale == nullptr ? nullptr : dropout_scale + row * time;
  acc dot = 0;
  for (std::int64_t j = threadIdx.x; j < time; j += softmax_block) {
    if (s != nullptr) g[j] *= s[j];
    dot += static_cast<acc>(g[j]) * static_cast<acc>(p[j]);
  }
  dot = reduce_a(storage).Sum(dot);
  if (threadIdx.x == 0) shared_dot = dot;
  __syncthreads();
  const T d = static_cast<T>(shared_dot);
  for (std::int64_t j = threadIdx.x; j < time; j += softmax_block) g[j] = p[j] * (g[j] - d) * scale;
}

}  // namespace ecgssl::cuda_detail

namespace ecgssl::nn::detail {
/// multi_head_attention<T, cuda>'s device state: key padding mask [B, T] and core scratch.
template <class T>
struct attention_state<cuda, T> {
  device_buffer<std::uint8_t> padding;
  cuda_detail::attention_workspace<T> workspace;
};
}  // namespace ecgssl::nn::detail

namespace ecgssl {

template <>
struct implementation<nn::detail::attention_core_op, cuda> {
  using geometry = cuda_detail::attention_geometry;
  template <class T>
  using workspace = cuda_detail::attention_workspace<T>;

  /// q, k, v: [B, T, D]; key_padding: [B, T] (nonzero = padded key) or null; dropout_scale:
  /// [B, H, T, T] multipliers (0 or 1/(1-p), e.g. from dropout_op::draw_mask) or null.
  /// Writes probs: [B, H, T, T] (before dropout) and ctx: [B, T, D] (all device pointers).
  template <class T>
  static void forward(const geometry& g, const T* q, const T* k, const T* v,
                      const std::uint8_t* key_padding, const T* dropout_scale, T* probs, T* ctx,
                      workspace<T>& ws) {
    using namespace cuda_detail;
    if (g.batch == 0 || g.time == 0) return;
    const auto b = static_cast<std::int64_t>(g.batch), l = static_cast<std::int64_t>(g.time);
    const auto d = static_cast<std::int64_t>(g.dim), h = static_cast<std::int64_t>(g.heads);
    const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(g.head_dim())));
    if (dropout_scale != nullptr) ws.weighted.resize(g.probs_size());
    const T* weights = dropout_scale != nullptr ? ws.weighted.data() : probs;
    const auto pass = attention_forward_pass(b, l, d, h, q, k, v, weights, probs, ctx);
    T* const* arrays = ws.forward_pointers.prepare(pass);
    run_job(pass, 0, arrays, scale, T(0));  // probs = scale * Q K^T
    masked_softmax_rows<<<static_cast<unsigned>(g.batch * g.heads * g.time), softmax_block, 0,
                          stream()>>>(probs, key_padding, h, static_cast<std::int64_t>(g.time));
    ECGSSL_CUDA_CHECK_LAUNCH();
    if (dropout_scale != nullptr) {
      multiply_probabilities(probs, dropout_scale, ws.weighted.data(), g.probs_size());
    }
    run_job(pass, 1, arrays, T(1), T(0));  // ctx = weights V
  }

  /// dctx: [B, T, D]; ACCUMULATES dq, dk, dv: [B, T, D] (the gradients of the projections'
  /// outputs; zero them first when they hold nothing else). probs and dropout_scale as given to
  /// and returned by forward.
  template <class T>
  static void backward(const geometry& g, const T* q, const T* k, const T* v, const T* probs,
                       const T* dropout_scale, const T* dctx, T* dq, T* dk, T* dv,
                       workspace<T>& ws) {
    using namespace cuda_detail;
    if (g.batch == 0 || g.time == 0) return;
    const auto b = static_cast<std::int64_t>(g.batch), l = static_cast<std::int64_t>(g.time);
    const auto d = static_cast<std::int64_t>(g.dim), h = static_cast<std::int64_t>(g.heads);
    const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(g.head_dim())));
    const T* weights = probs;
    if (dropout_scale != nullptr) {
      ws.weighted.resize(g.probs_size());
      multiply_probabilities(probs, dropout_scale, ws.weighted.data(), g.probs_size());
      weights = ws.weighted.data();
    }
    ws.grad.resize(g.probs_size());
    T* grad = ws.grad.data();
    const auto pass = attention_backward_pass(b, l, d, h, q, k, v, weights, dctx, grad, dq, dk, dv);
    T* const* arrays = ws.backward_pointers.prepare(pass);
    run_job(pass, 0, arrays, T(1), T(0));  // grad = dC V^T
    run_job(pass, 1, arrays, T(1), T(1));  // dv += W^T dC
    softmax_backward_rows<<<static_cast<unsigned>(g.batch * g.heads * g.time), softmax_block, 0,
                            stream()>>>(probs, dropout_scale, grad,
                                        static_cast<std::int64_t>(g.time), scale);
    ECGSSL_CUDA_CHECK_LAUNCH();
    run_job(pass, 2, arrays, T(1), T(1));  // dq += dS K
    run_job(pass, 3, arrays, T(1), T(1));  // dk += dS^T Q
  }

 private:
  // out = probs .* scale (the dropped-out attention weights).
  template <class T>
  static void multiply_probabilities(const T* probs, const T* scale, T* out, std::size_t n) {
    cuda_detail::multiply_elements<<<cuda_detail::grid_for(n), cuda_detail::block_size, 0,
                                     cuda_detail::stream()>>>(probs, scale, out, n);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
};

}  // namespace ecgssl

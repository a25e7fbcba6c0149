#pragma once
/// \file pos_conv_kernels.cuh
/// CUDA twin of implementation<nn::detail::pos_conv_op, host> (spec §3.6): weight norm over the
/// kernel axis (per-tap sums by one block per tap with a fixed reduction tree), im2col of a chunk
/// of samples into a device workspace, one cuBLAS strided-batched GEMM over the groups per chunk,
/// then bias + GELU. Backward: GELU', bias sums in row order, the weight gradient summed over
/// chunks in order, the input gradient as dcols = dPre W followed by a col2im gather (each input
/// element sums the taps that read it), and the weight-norm chain rule. No atomics: results are
/// deterministic. Index math and GEMM plans: detail/pos_conv_math.cuh (tested on the host).
/// Same signature as the host twin over DEVICE pointers; the workspace is this backend's.

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "../core/backend.hpp"
#include "../core/threading.hpp"
#include "../nn/detail/pos_conv_kernels.hpp"
#include "detail/launch.cuh"
#include "detail/pos_conv_math.cuh"
#include "device_buffer.cuh"

namespace ecgssl::cuda_detail {

/// Device caches and scratch of pos_conv, reused across calls of one shape.
template <class T>
struct pos_conv_workspace {
  using acc = accumulator_t<T>;
  device_buffer<T> x;         // the forward input [batch, time, dim] (backward rebuilds cols from it)
  device_buffer<T> cols;      // im2col (or its gradient) of a chunk of samples
  device_buffer<T> w;         // effective weight [groups][dg][K][dg]
  device_buffer<T> grad_w;    // its gradient, same layout
  device_buffer<T> norm;      // [K]
  device_buffer<acc> sums;    // [K] per-tap sums (norms^2, then dots)
  device_buffer<T> pre_act;   // [batch, time, dim]
  device_buffer<T> grad_pre;  // [batch, time, dim]
  std::vector<acc> host_sums; // the norms^2 on the host, for the zero-norm check
  bool cols_hold_input = false;  // cols still hold the forward's im2col of the whole batch
  /// Upper bound on the cols scratch, in elements (the batch is processed in chunks below it).
  std::size_t max_elements = std::size_t(1) << 25;
};

// out[j] = sum over the dim*dg rows r of weight_v of (w ? w[r, j] : v[r, j]) * v[r, j]; one block
// per tap, block_size lanes, fixed tree.
template <class T, class Acc>
__global__ void pos_conv_tap_sums(pos_conv_dims d, const T* v, const T* w, Acc* out) {
  __shared__ Acc partial[block_size];
  const auto lane = static_cast<std::int64_t>(threadIdx.x);
  for (std::int64_t j = blockIdx.x; j < d.kernel; j += gridDim.x) {
    partial[threadIdx.x] = pos_conv_tap_partial<Acc>(d, v, w, j, lane, block_size);
    __syncthreads();
    for (int s = block_size / 2; s > 0; s >>= 1) {
      if (static_cast<int>(threadIdx.x) < s) partial[threadIdx.x] += partial[threadIdx.x + s];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[j] = partial[0];
    __syncthreads();  // partial is reused by the next tap of this block
  }
}

template <class T, class Acc>
__global__ void pos_conv_norms(std::int64_t kernel, const Acc* sums, T* norm) {
  ECGSSL_GRID_STRIDE_LOOP(j, static_cast<std::size_t>(kernel)) { norm[j] = static_cast<T>(sqrt(sums[j])); }
}

// w[e] = gain[j] * v[...] / norm[j] in the effective-weight layout.
template <class T>
__global__ void pos_conv_effective_weight(pos_conv_dims d, const T* v, const T* gain, const T* norm, T* w) {
  const auto n = static_cast<std::size_t>(d.dim * d.patch());
  ECGSSL_GRID_STRIDE_LOOP(e64, n) {
    const auto e = static_cast<std::int64_t>(e64);
    const std::int64_t j = (e / d.dg()) % d.kernel;
    w[e] = gain[j] * v[pos_conv_v_index(d, e)] / norm[j];
  }
}

template <class T>
__global__ void pos_conv_im2col(pos_conv_dims d, const T* x, std::int64_t b0, std::int64_t n_samples,
                                T* cols) {
  const auto n = static_cast<std::size_t>(n_samples * d.cols_per_sample());
  ECGSSL_GRID_STRIDE_LOOP(e64, n) {
    const std::int64_t src = pos_conv_im2col_source(d, b0, static_cast<std::int64_t>(e64));
    cols[e64] = src < 0 ? T(0) : x[src];
  }
}

// pre += bias (per channel); y = GELU(pre).
template <class T>
__global__ void pos_conv_bias_gelu(std::int64_t dim, const T* bias, T* pre, T* y, std::size_t n) {
  const T inv_sqrt2 = static_cast<T>(0.70710678118654752440);
  ECGSSL_GRID_STRIDE_LOOP(i, n) {
    const T a = pre[i] + bias[static_cast<std::int64_t>(i) % dim];
    pre[i] = a;
    y[i] = T(0.5) * a * (T(1) + erf_of(a * inv_sqrt2));
  }
}

// dpre = dy * GELU'(pre) (assigned, not accumulated).
template <class T>
__global__ void pos_conv_gelu_grad(const T* pre, const T* dy, T* dpre, std::size_t n) {
  const T inv_sqrt2 = static_cast<T>(0.70710678118654752440);
  const T inv_sqrt_2pi = static_cast<T>(0.39894228040143267794);
  ECGSSL_GRID_STRIDE_LOOP(i, n) {
    const T v = pre[i];
    const T cdf = T(0.5) * (T(1) + erf_of(v * inv_sqrt2));
    const T pdf = inv_sqrt_2pi * exp_of(T(-0.5) * v * v);
    dpre[i] = dy[i] * (cdf + v * pdf);
  }
}

// db[c] += sum over rows of dpre[row, c], rows in order.
template <class T>
__global__ void pos_conv_bias_grad(std::int64_t rows, std::int64_t dim, const T* dpre, T* db) {
  ECGSSL_GRID_STRIDE_LOOP(c, static_cast<std::size_t>(dim)) {
    accumulator_t<T> sum = 0;
    for (std::int64_t r = 0; r < rows; ++r) sum += dpre[r * dim + static_cast<std::int64_t>(c)];
    db[c] += static_cast<T>(sum);
  }
}

// dx[b0 + b, s, c] += sum_j dcols[b, s + K/2 - j, g, j*dg + i] over the frames that exist.
template <class T>
__global__ void pos_conv_col2im_gather_add(pos_conv_dims d, const T* dcols, std::int64_t b0,
                                           std::int64_t n_samples, T* dx) {
  const auto n = static_cast<std::size_t>(n_samples * d.time * d.dim);
  ECGSSL_GRID_STRIDE_LOOP(e64, n) {
    const auto e = static_cast<std::int64_t>(e64);
    T sum = 0;
    for (std::int64_t j = 0; j < d.kernel; ++j) {
      const std::int64_t src = pos_conv_col2im_source(d, e, j);
      if (src >= 0) sum += dcols[src];
    }
    dx[b0 * d.time * d.dim + e] += sum;
  }
}

// dgain[j] += dots[j] / norm[j]
template <class T, class Acc>
__global__ void pos_conv_gain_grad(std::int64_t kernel, const Acc* dots, const T* norm, T* dgain) {
  ECGSSL_GRID_STRIDE_LOOP(j, static_cast<std::size_t>(kernel)) { dgain[j] += static_cast<T>(dots[j] / norm[j]); }
}

// dv[r, j] += gain_j / n_j * (dw[r, j] - v[r, j] * dots_j / n_j^2)
template <class T, class Acc>
__global__ void pos_conv_v_grad(pos_conv_dims d, const T* v, const T* gain, const T* norm, const Acc* dots,
                                const T* grad_w, T* dv) {
  const auto n = static_cast<std::size_t>(d.dim * d.patch());
  ECGSSL_GRID_STRIDE_LOOP(e64, n) {
    const auto e = static_cast<std::int64_t>(e64);
    const std::int64_t j = e % d.kernel;
    const T nj = norm[j];
    const T dw = grad_w[pos_conv_weight_index(d, e / d.kernel, j)];
    dv[e] += gain[j] / nj * (dw - v[e] * static_cast<T>(dots[j]) / (nj * nj));
  }
}

inline pos_conv_dims to_dims(const nn::detail::pos_conv_geometry& g) {
  pos_conv_dims d;
  d.batch = static_cast<std::int64_t>(g.batch);
  d.time = static_cast<std::int64_t>(g.time);
  d.dim = static_cast<std::int64_t>(g.dim);
  d.groups = static_cast<std::int64_t>(g.groups);
  d.kernel = static_cast<std::int64_t>(g.kernel);
  return d;
}

inline unsigned tap_grid(std::int64_t kernel) {
  return static_cast<unsigned>(kernel < 65535 ? kernel : 65535);
}

}  // namespace ecgssl::cuda_detail

namespace ecgssl {

template <>
struct implementation<nn::detail::pos_conv_op, cuda> {
  using geometry = nn::detail::pos_conv_geometry;
  template <class T>
  using workspace = cuda_detail::pos_conv_workspace<T>;

  /// y = GELU(conv(x, w(v, gain)) + bias), x, y: [batch, time, dim] (device); caches x.
  /// Throws data_error when a tap of weight_v has a zero norm (this synchronises the stream
  /// once, for the kernel-size sums).
  template <class T>
  static void forward(const geometry& geo, const T* x, const T* v, const T* gain, const T* bias, T* y,
                      workspace<T>& ws) {
    using namespace cuda_detail;
    using acc = accumulator_t<T>;
    const pos_conv_dims d = to_dims(geo);
    const auto weights = static_cast<std::size_t>(d.dim * d.patch());
    const auto k = static_cast<std::size_t>(d.kernel);
    ws.norm.resize(k);
    ws.sums.resize(k);
    ws.w.resize(weights);
    ws.cols_hold_input = false;
    pos_conv_tap_sums<T, acc><<<tap_grid(d.kernel), block_size, 0, stream()>>>(d, v, static_cast<const T*>(nullptr),
                                                                               ws.sums.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    ws.host_sums.resize(k);
    ws.sums.copy_to_host(std::span<acc>(ws.host_sums));
    for (std::size_t j = 0; j < k; ++j) nn::detail::require_positive_tap_norm(ws.host_sums[j], j);
    pos_conv_norms<T, acc><<<grid_for(k), block_size, 0, stream()>>>(d.kernel, ws.sums.data(), ws.norm.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    pos_conv_effective_weight<T><<<grid_for(weights), block_size, 0, stream()>>>(d, v, gain, ws.norm.data(),
                                                                                ws.w.data());
    ECGSSL_CUDA_CHECK_LAUNCH();

    const auto total = static_cast<std::size_t>(d.batch * d.time * d.dim);
    ws.x.resize(total);
    ws.pre_act.resize(total);
    if (total == 0) return;
    ECGSSL_CUDA_CHECK(cudaMemcpyAsync(ws.x.data(), x, total * sizeof(T), cudaMemcpyDeviceToDevice, stream()));
    const std::int64_t chunk = pos_conv_chunk(d, static_cast<std::int64_t>(ws.max_elements));
    ws.cols.resize(static_cast<std::size_t>(chunk * d.cols_per_sample()));
    for (std::int64_t b0 = 0; b0 < d.batch; b0 += chunk) {
      const std::int64_t n = std::min(chunk, d.batch - b0);
      pos_conv_im2col<T><<<grid_for(static_cast<std::size_t>(n * d.cols_per_sample())), block_size, 0, stream()>>>(
          d, x, b0, n, ws.cols.data());
      ECGSSL_CUDA_CHECK_LAUNCH();
      run(pos_conv_forward_plan(d, b0, n), T(1), static_cast<const T*>(ws.w.data()),
          static_cast<const T*>(ws.cols.data()), T(0), ws.pre_act.data());
    }
    ws.cols_hold_input = chunk >= d.batch;
    pos_conv_bias_gelu<T><<<grid_for(total), block_size, 0, stream()>>>(d.dim, bias, ws.pre_act.data(), y, total);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  /// dy: [batch, time, dim] (device); accumulates dx, dv, dgain, dbias.
  template <class T>
  static void backward(const geometry& geo, const T* v, const T* gain, const T* dy, T* dx, T* dv, T* dgain,
                       T* dbias, workspace<T>& ws) {
    using namespace cuda_detail;
    using acc = accumulator_t<T>;
    const pos_conv_dims d = to_dims(geo);
    const auto weights = static_cast<std::size_t>(d.dim * d.patch());
    const auto total = static_cast<std::size_t>(d.batch * d.time * d.dim);
    ws.grad_w.resize(weights);
    ws.grad_pre.resize(total);
    if (total == 0) {
      ws.grad_w.zero();
    } else {
      pos_conv_gelu_grad<T><<<grid_for(total), block_size, 0, stream()>>>(ws.pre_act.data(), dy,
                                                                          ws.grad_pre.data(), total);
      ECGSSL_CUDA_CHECK_LAUNCH();
      pos_conv_bias_grad<T><<<grid_for(static_cast<std::size_t>(d.dim)), block_size, 0, stream()>>>(
          d.batch * d.time, d.dim, ws.grad_pre.data(), dbias);
      ECGSSL_CUDA_CHECK_LAUNCH();
      const std::int64_t chunk = pos_conv_chunk(d, static_cast<std::int64_t>(ws.max_elements));
      ws.cols.resize(static_cast<std::size_t>(chunk * d.cols_per_sample()));
      const bool reuse = ws.cols_hold_input && chunk >= d.batch;
      for (std::int64_t b0 = 0; b0 < d.batch; b0 += chunk) {
        const std::int64_t n = std::min(chunk, d.batch - b0);
        if (!reuse) {
          pos_conv_im2col<T><<<grid_for(static_cast<std::size_t>(n * d.cols_per_sample())), block_size, 0,
                               stream()>>>(d, ws.x.data(), b0, n, ws.cols.data());
          ECGSSL_CUDA_CHECK_LAUNCH();
        }
        // Chunks in order: the first assigns, the next add (deterministic).
        run(pos_conv_weight_grad_plan(d, b0, n), T(1), static_cast<const T*>(ws.cols.data()),
            static_cast<const T*>(ws.grad_pre.data()), b0 == 0 ? T(0) : T(1), ws.grad_w.data());
        // The cols now become dcols (the im2col of this chunk is not needed any more).
        run(pos_conv_cols_grad_plan(d, b0, n), T(1), static_cast<const T*>(ws.w.data()),
            static_cast<const T*>(ws.grad_pre.data()), T(0), ws.cols.data());
        pos_conv_col2im_gather_add<T><<<grid_for(static_cast<std::size_t>(n * d.time * d.dim)), block_size, 0,
                                        stream()>>>(d, ws.cols.data(), b0, n, dx);
        ECGSSL_CUDA_CHECK_LAUNCH();
      }
      ws.cols_hold_input = false;
    }
    pos_conv_tap_sums<T, acc><<<tap_grid(d.kernel), block_size, 0, stream()>>>(
        d, v, static_cast<const T*>(ws.grad_w.data()), ws.sums.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    pos_conv_gain_grad<T, acc><<<grid_for(static_cast<std::size_t>(d.kernel)), block_size, 0, stream()>>>(
        d.kernel, ws.sums.data(), ws.norm.data(), dgain);
    ECGSSL_CUDA_CHECK_LAUNCH();
    pos_conv_v_grad<T, acc><<<grid_for(weights), block_size, 0, stream()>>>(d, v, gain, ws.norm.data(),
                                                                           ws.sums.data(), ws.grad_w.data(), dv);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
};

}  // namespace ecgssl

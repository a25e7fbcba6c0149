#pragma once
/// \file conv1d_kernels.cuh
/// CUDA twin of implementation<nn::detail::conv1d_op, host> (spec §3.3 extractor, §3.6
/// positional conv): im2col into a device workspace, then cuBLAS strided-batched GEMMs over the
/// samples of a chunk. col2im is written as a gather (each input element sums the taps that read
/// it, index_math.cuh), so no atomics and the result is deterministic; the weight gradient sums
/// the batch in order. Same signature as the host twin over DEVICE pointers, except that the
/// workspace is this backend's `workspace<T>` (a layer gets it as `kernels::workspace<T>`).

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../core/backend.hpp"
#include "../core/threading.hpp"
#include "../nn/detail/conv1d_kernels.hpp"
#include "detail/index_math.cuh"
#include "detail/launch.cuh"
#include "device_buffer.cuh"

namespace ecgssl::cuda_detail {

/// Device scratch of conv1d: the im2col (or its gradient) of a chunk of samples.
template <class T>
struct conv1d_workspace {
  device_buffer<T> cols;
  /// Upper bound on the scratch, in elements (the batch is processed in chunks below it).
  std::size_t max_elements = std::size_t(1) << 25;
};

// cols: [chunk, in_channels * kernel, out_length], row c*K + k = x[b0 + b, c, t*s + k*d - p].
template <class T>
__global__ void im2col(conv1d_dims d, const T* x, std::int64_t b0, std::int64_t chunk, T* cols) {
  const std::int64_t rows = d.in_channels * d.kernel;
  const auto n = static_cast<std::size_t>(chunk * rows * d.out_length);
  ECGSSL_GRID_STRIDE_LOOP(i64, n) {
    const auto i = static_cast<std::int64_t>(i64);
    const std::int64_t t = i % d.out_length;
    const std::int64_t row = (i / d.out_length) % rows;
    const std::int64_t b = i / (d.out_length * rows);
    const std::int64_t c = row / d.kernel;
    const std::int64_t k = row % d.kernel;
    const std::int64_t src = im2col_source(d, k, t);
    cols[i] = src < 0 ? T(0) : x[((b0 + b) * d.in_channels + c) * d.length + src];
  }
}

// dx[b0 + b, c, x] += sum_k dcols[b, c*K + k, t(k, x)] over the taps that read x.
template <class T>
__global__ void col2im_gather_add(conv1d_dims d, const T* dcols, std::int64_t b0,
                                  std::int64_t chunk, T* dx) {
  const std::int64_t rows = d.in_channels * d.kernel;
  const auto n = static_cast<std::size_t>(chunk * d.in_channels * d.length);
  ECGSSL_GRID_STRIDE_LOOP(i64, n) {
    const auto i = static_cast<std::int64_t>(i64);
    const std::int64_t xpos = i % d.length;
    const std::int64_t c = (i / d.length) % d.in_channels;
    const std::int64_t b = i / (d.length * d.in_channels);
    T sum = 0;
    for (std::int64_t k = 0; k < d.kernel; ++k) {
      const std::int64_t t = col2im_target(d, k, xpos);
      if (t >= 0) sum += dcols[(b * rows + c * d.kernel + k) * d.out_length + t];
    }
    dx[(b0 + b) * d.in_channels * d.length + c * d.length + xpos] += sum;
  }
}

// y[b, c, t] += bias[c]
template <class T>
__global__ void add_channel_bias(conv1d_dims d, const T* bias, T* y) {
  const auto n = static_cast<std::size_t>(d.batch * d.out_channels * d.out_length);
  ECGSSL_GRID_STRIDE_LOOP(i64, n) {
    const auto i = static_cast<std::int64_t>(i64);
    y[i] += bias[(i / d.out_length) % d.out_channels];
  }
}

// db[c] += sum over (b, t) of dy[b, c, t], in order.
template <class T>
__global__ void channel_sums_add(conv1d_dims d, const T* dy, T* db) {
  ECGSSL_GRID_STRIDE_LOOP(c64, static_cast<std::size_t>(d.out_channels)) {
    const auto c = static_cast<std::int64_t>(c64);
    accumulator_t<T> sum = 0;
    for (std::int64_t b = 0; b < d.batch; ++b) {
      const T* row = dy + (b * d.out_channels + c) * d.out_length;
      for (std::int64_t t = 0; t < d.out_length; ++t) sum += row[t];
    }
    db[c] += static_cast<T>(sum);
  }
}

inline conv1d_dims to_dims(const nn::detail::conv1d_geometry& g) {
  conv1d_dims d;
  d.batch = static_cast<std::int64_t>(g.batch);
  d.in_channels = static_cast<std::int64_t>(g.in_channels);
  d.out_channels = static_cast<std::int64_t>(g.out_channels);
  d.length = static_cast<std::int64_t>(g.length);
  d.out_length = static_cast<std::int64_t>(g.out_length);
  d.kernel = static_cast<std::int64_t>(g.kernel);
  d.stride = static_cast<std::int64_t>(g.stride);
  d.padding = static_cast<std::int64_t>(g.padding);
  d.dilation = static_cast<std::int64_t>(g.dilation);
  d.groups = static_cast<std::int64_t>(g.groups);
  return d;
}

/// Samples per chunk so that the workspace stays below its bound (at least one).
template <class T>
std::int64_t chunk_size(const conv1d_dims& d, const conv1d_workspace<T>& ws) {
  const std::int64_t per_sample =
      std::max<std::int64_t>(1, d.in_channels * d.kernel * d.out_length);
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(ws.max_elements) / per_sample, 1,
                                  std::max<std::int64_t>(1, d.batch));
}

}  // namespace ecgssl::cuda_detail

namespace ecgssl {

template <>
struct implementation<nn::detail::conv1d_op, cuda> {
  using geometry = nn::detail::conv1d_geometry;
  template <class T>
  using workspace = cuda_detail::conv1d_workspace<T>;

  /// y[b, group block] = W_g cols(x_b, g) (+ bias). x: [B, Cin, T], w: [Cout, Cin_g, K],
  /// y: [B, Cout, T'] (device).
  template <class T>
  static void forward(const geometry& g, const T* x, const T* w, const T* bias, T* y,
                      workspace<T>& ws) {
    using namespace cuda_detail;
    const conv1d_dims d = to_dims(g);
    if (d.batch == 0 || d.out_length == 0 || d.out_channels == 0) return;
    const std::int64_t chunk = chunk_size(d, ws);
    const std::int64_t rows = d.in_channels * d.kernel;
    ws.cols.resize(static_cast<std::size_t>(chunk * rows * d.out_length));
    for (std::int64_t b0 = 0; b0 < d.batch; b0 += chunk) {
      const std::int64_t n = std::min(chunk, d.batch - b0);
      im2col<<<grid_for(static_cast<std::size_t>(n * rows * d.out_length)), block_size, 0,
               stream()>>>(d, x, b0, n, ws.cols.data());
      ECGSSL_CUDA_CHECK_LAUNCH();
      for (std::int64_t group = 0; group < d.groups; ++group) {
        run(conv1d_forward_plan(d.in_channels, d.out_channels, d.groups, d.kernel, d.out_length,
                                group, b0, n),
            T(1), ws.cols.data(), w, T(0), y);
      }
    }
    if (bias != nullptr) {
      add_channel_bias<<<grid_for(
                             static_cast<std::size_t>(d.batch * d.out_channels * d.out_length)),
                         block_size, 0, stream()>>>(d, bias, y);
      ECGSSL_CUDA_CHECK_LAUNCH();
    }
  }

  /// dx += col2im(W_g^T dy_g); dw_g += sum_b dy_bg cols(x_b, g)^T; db += sums of dy over (b, t).
  /// Null dx, dw or db skip that gradient.
  template <class T>
  static void backward(const geometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                       workspace<T>& ws) {
    using namespace cuda_detail;
    const conv1d_dims d = to_dims(g);
    if (d.batch == 0 || d.out_length == 0 || d.out_channels == 0) return;
    const std::int64_t chunk = chunk_size(d, ws);
    const std::int64_t rows = d.in_channels * d.kernel;
    ws.cols.resize(static_cast<std::size_t>(chunk * rows * d.out_length));
    if (dx != nullptr) {
      for (std::int64_t b0 = 0; b0 < d.batch; b0 += chunk) {
        const std::int64_t n = std::min(chunk, d.batch - b0);
        for (std::int64_t group = 0; group < d.groups; ++group) {
          run(conv1d_cols_grad_plan(d.in_channels, d.out_channels, d.groups, d.kernel, d.out_length,
                                    group, b0, n),
              T(1), dy, w, T(0), ws.cols.data());
        }
        col2im_gather_add<<<grid_for(static_cast<std::size_t>(n * d.in_channels * d.length)),
                            block_size, 0, stream()>>>(d, ws.cols.data(), b0, n, dx);
        ECGSSL_CUDA_CHECK_LAUNCH();
      }
    }
    if (dw != nullptr) {
      for (std::int64_t b0 = 0; b0 < d.batch; b0 += chunk) {
        const std::int64_t n = std::min(chunk, d.batch - b0);
        im2col<<<grid_for(static_cast<std::size_t>(n * rows * d.out_length)), block_size, 0,
                 stream()>>>(d, x, b0, n, ws.cols.data());
        ECGSSL_CUDA_CHECK_LAUNCH();
        // Samples in order (deterministic); groups batched: each writes its own dw block.
        for (std::int64_t b = 0; b < n; ++b) {
          run(conv1d_weight_grad_plan(d.in_channels, d.out_channels, d.groups, d.kernel,
                                      d.out_length, b0 + b, b),
              T(1), ws.cols.data(), dy, T(1), dw);
        }
      }
    }
    if (db != nullptr) {
      channel_sums_add<<<grid_for(static_cast<std::size_t>(d.out_channels)), block_size, 0,
                         stream()>>>(d, dy, db);
      ECGSSL_CUDA_CHECK_LAUNCH();
    }
  }
};

}  // namespace ecgssl

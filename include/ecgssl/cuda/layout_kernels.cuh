#pragma once
/// \file layout_kernels.cuh
/// The encoder's layout changes on the GPU: the extractor's [batch, channels, frames] output
/// becomes the transformer's [batch, frames, channels] input (spec §3.4), and a classifier pools
/// the encoded frames by their mean over time (spec §6.1 fine-tuning head). Each has a forward
/// that overwrites and a backward that accumulates (the layers' gradient rule); every output
/// element is written by one thread, so the results are deterministic.

#include <cstddef>
#include <cstdint>

#include "../core/error.hpp"
#include "../model/detail/encoder_layout_kernels.hpp"
#include "detail/launch.cuh"
#include "device_tensor.cuh"

namespace ecgssl::cuda_detail {

// y[b, c, r] (=|+=) x[b, r, c] for x: [batch, rows, cols]
template <class T, bool Accumulate>
__global__ void swap_last_axes_kernel(const T* x, T* y, std::int64_t batch, std::int64_t rows,
                                      std::int64_t cols) {
  const auto n = static_cast<std::size_t>(batch * rows * cols);
  ECGSSL_GRID_STRIDE_LOOP(i64, n) {
    const auto i = static_cast<std::int64_t>(i64);  // index into y: [batch, cols, rows]
    const std::int64_t r = i % rows;
    const std::int64_t c = (i / rows) % cols;
    const std::int64_t b = i / (rows * cols);
    const T v = x[(b * rows + r) * cols + c];
    if constexpr (Accumulate) {
      y[i] += v;
    } else {
      y[i] = v;
    }
  }
}

// y[b, d] = (1/T) sum_t x[b, t, d], summed in t order
template <class T>
__global__ void mean_over_time_kernel(const T* x, T* y, std::int64_t batch, std::int64_t frames,
                                      std::int64_t dim) {
  const auto n = static_cast<std::size_t>(batch * dim);
  ECGSSL_GRID_STRIDE_LOOP(i64, n) {
    const auto i = static_cast<std::int64_t>(i64);
    const std::int64_t d = i % dim;
    const std::int64_t b = i / dim;
    T sum = 0;
    for (std::int64_t t = 0; t < frames; ++t) sum += x[(b * frames + t) * dim + d];
    y[i] = sum / static_cast<T>(frames);
  }
}

// dx[b, t, d] += dy[b, d] / T
template <class T>
__global__ void mean_over_time_backward_kernel(const T* dy, T* dx, std::int64_t batch,
                                               std::int64_t frames, std::int64_t dim) {
  const auto n = static_cast<std::size_t>(batch * frames * dim);
  ECGSSL_GRID_STRIDE_LOOP(i64, n) {
    const auto i = static_cast<std::int64_t>(i64);
    const std::int64_t d = i % dim;
    const std::int64_t b = i / (frames * dim);
    dx[i] += dy[b * dim + d] / static_cast<T>(frames);
  }
}

// dst[i, c] = src[rows[i], c]
template <class T>
__global__ void gather_rows_kernel(const T* src, const std::size_t* rows, std::size_t count, std::size_t width,
                                   T* dst) {
  ECGSSL_GRID_STRIDE_LOOP(i, count * width) {
    const std::size_t row = i / width;
    dst[i] = src[rows[row] * width + i % width];
  }
}

// dst[rows[i], c] += src[i, c]; the rows are distinct, so no two threads write one element
template <class T>
__global__ void scatter_add_rows_kernel(const T* src, const std::size_t* rows, std::size_t count,
                                        std::size_t width, T* dst) {
  ECGSSL_GRID_STRIDE_LOOP(i, count * width) {
    const std::size_t row = i / width;
    dst[rows[row] * width + i % width] += src[i];
  }
}

template <class T>
__global__ void scale_kernel(T* y, std::size_t n, T factor) {
  ECGSSL_GRID_STRIDE_LOOP(i, n) { y[i] *= factor; }
}

}  // namespace ecgssl::cuda_detail

namespace ecgssl {

/// The encoder's layout steps on the GPU; same signatures as the host twin
/// (model/detail/encoder_layout_kernels.hpp), every pointer a device pointer.
template <>
struct implementation<model::detail::encoder_layout_op, cuda> {
  template <bool Accumulate, class T>
  static void swap_last_axes(const T* x, T* y, std::size_t batch, std::size_t rows, std::size_t cols) {
    const std::size_t n = batch * rows * cols;
    if (n == 0) return;
    cuda_detail::swap_last_axes_kernel<T, Accumulate>
        <<<cuda_detail::grid_for(n), cuda_detail::block_size, 0, cuda_detail::stream()>>>(
            x, y, static_cast<std::int64_t>(batch), static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols));
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
  template <class T>
  static void gather_rows(const T* src, const std::size_t* rows, std::size_t count, std::size_t width, T* dst) {
    if (count * width == 0) return;
    cuda_detail::gather_rows_kernel<<<cuda_detail::grid_for(count * width), cuda_detail::block_size, 0,
                                      cuda_detail::stream()>>>(src, rows, count, width, dst);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
  template <class T>
  static void scatter_add_rows(const T* src, const std::size_t* rows, std::size_t count, std::size_t width, T* dst) {
    if (count * width == 0) return;
    cuda_detail::scatter_add_rows_kernel<<<cuda_detail::grid_for(count * width), cuda_detail::block_size, 0,
                                           cuda_detail::stream()>>>(src, rows, count, width, dst);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
  template <class T>
  static void scale(T* y, std::size_t n, T factor) {
    if (n == 0) return;
    cuda_detail::scale_kernel<<<cuda_detail::grid_for(n), cuda_detail::block_size, 0, cuda_detail::stream()>>>(
        y, n, factor);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
  template <class T>
  static void mean_over_time(const T* x, T* y, std::size_t batch, std::size_t frames, std::size_t dim) {
    if (batch * dim == 0) return;
    cuda_detail::mean_over_time_kernel<<<cuda_detail::grid_for(batch * dim), cuda_detail::block_size, 0,
                                         cuda_detail::stream()>>>(x, y, static_cast<std::int64_t>(batch),
                                                                  static_cast<std::int64_t>(frames),
                                                                  static_cast<std::int64_t>(dim));
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
  template <class T>
  static void mean_over_time_backward(const T* dy, T* dx, std::size_t batch, std::size_t frames, std::size_t dim) {
    if (batch * frames * dim == 0) return;
    cuda_detail::mean_over_time_backward_kernel<<<cuda_detail::grid_for(batch * frames * dim),
                                                  cuda_detail::block_size, 0, cuda_detail::stream()>>>(
        dy, dx, static_cast<std::int64_t>(batch), static_cast<std::int64_t>(frames), static_cast<std::int64_t>(dim));
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
};

}  // namespace ecgssl

namespace ecgssl::cuda_layout {

/// y <- x with its last two axes swapped: [batch, a, b] -> [batch, b, a] (y is reshaped).
template <class T>
void swap_last_axes(const device_tensor<T, 3>& x, device_tensor<T, 3>& y) {
  const auto& s = x.shape();
  y.ensure_shape(std::array<std::size_t, 3>{s[0], s[2], s[1]});
  implementation<model::detail::encoder_layout_op, cuda>::swap_last_axes<false>(x.data(), y.data(), s[0], s[1], s[2]);
}

/// dx += dy with its last two axes swapped (the backward of swap_last_axes; dx keeps its shape).
template <class T>
void swap_last_axes_backward(const device_tensor<T, 3>& dy, device_tensor<T, 3>& dx) {
  const auto& s = dy.shape();
  require_shape(dx.shape(), std::array<std::size_t, 3>{s[0], s[2], s[1]}, "swap_last_axes input gradient");
  implementation<model::detail::encoder_layout_op, cuda>::swap_last_axes<true>(dy.data(), dx.data(), s[0], s[1], s[2]);
}

/// y: [batch, dim] <- mean over the frames of x: [batch, frames, dim] (frames > 0).
template <class T>
void mean_over_time(const device_tensor<T, 3>& x, device_tensor<T, 2>& y) {
  const auto& s = x.shape();
  if (s[1] == 0) {
    throw shape_error(at_field("mean_over_time input frames"), "0 frames", "at least one frame");
  }
  y.ensure_shape(std::array<std::size_t, 2>{s[0], s[2]});
  implementation<model::detail::encoder_layout_op, cuda>::mean_over_time(x.data(), y.data(), s[0], s[1], s[2]);
}

/// dx: [batch, frames, dim] += dy: [batch, dim] / frames.
template <class T>
void mean_over_time_backward(const device_tensor<T, 2>& dy, device_tensor<T, 3>& dx) {
  const auto& s = dx.shape();
  require_shape(dy.shape(), std::array<std::size_t, 2>{s[0], s[2]}, "mean_over_time output gradient");
  implementation<model::detail::encoder_layout_op, cuda>::mean_over_time_backward(dy.data(), dx.data(), s[0], s[1],
                                                                                  s[2]);
}

}  // namespace ecgssl::cuda_layout

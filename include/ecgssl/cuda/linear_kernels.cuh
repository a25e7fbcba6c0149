#pragma once
/// \file linear_kernels.cuh
/// CUDA twin of implementation<nn::detail::linear_op, host> (spec §3.4, §3.7): the same
/// signature over DEVICE pointers, GEMMs through cuBLAS, bias and bias gradient by kernels.
/// The GEMMs are the gemm_plans of detail/gemm_plan.cuh (tested on the host).

#include <cstddef>
#include <cstdint>

#include "../core/backend.hpp"
#include "../core/threading.hpp"
#include "../nn/detail/linear_kernels.hpp"
#include "detail/launch.cuh"

namespace ecgssl::cuda_detail {

// y: [rows, out] += b[out] broadcast over rows.
template <class T>
__global__ void add_row_bias(T* y, const T* b, std::int64_t rows, std::int64_t out) {
  const std::int64_t n = rows * out;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(blockDim.x) * gridDim.x) {
    y[i] += b[i % out];
  }
}

// db[o] += sum_r dy[r, o]. A block owns column_tile columns; its row_lanes lanes per column
// each sum every row_lanes-th row in order, then a fixed tree adds the lanes: the order depends
// only on the shape (deterministic), sums of float are kept in double, and a warp reads
// consecutive columns (coalesced). One thread per column, as before, left most of the GPU idle:
// 3 blocks for 768 columns, 145 us per call on an H100 at [1248, 768].
inline constexpr int column_tile = 32;
inline constexpr int row_lanes = 32;

template <class T>
__global__ void add_column_sums(const T* dy, T* db, std::int64_t rows, std::int64_t out) {
  using acc = accumulator_t<T>;
  __shared__ acc partial[row_lanes][column_tile + 1];
  const std::int64_t o = std::int64_t(blockIdx.x) * column_tile + threadIdx.x;
  acc sum = 0;
  if (o < out) {
    for (std::int64_t r = threadIdx.y; r < rows; r += row_lanes) sum += dy[r * out + o];
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  for (int stride = row_lanes / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.y) < stride) partial[threadIdx.y][threadIdx.x] += partial[threadIdx.y + stride][threadIdx.x];
    __syncthreads();
  }
  if (threadIdx.y == 0 && o < out) db[o] += static_cast<T>(partial[0][threadIdx.x]);
}

}  // namespace ecgssl::cuda_detail

namespace ecgssl {

template <>
struct implementation<nn::detail::linear_op, cuda> {
  /// y = x w^T (+ b). x: [rows, in], w: [out, in], b: [out] or null, y: [rows, out] (device).
  template <class T>
  static void forward(const T* x, const T* w, const T* b, T* y, std::ptrdiff_t rows,
                      std::ptrdiff_t in, std::ptrdiff_t out) {
    using namespace cuda_detail;
    if (rows == 0 || out == 0) return;
    run(linear_forward_plan(rows, in, out), T(1), w, x, T(0), y);
    if (b != nullptr) {
      add_row_bias<<<grid_for(std::size_t(rows * out)), block_size, 0, stream()>>>(y, b, rows, out);
      ECGSSL_CUDA_CHECK_LAUNCH();
    }
  }

  /// dx += dy w; dw += dy^T x; db += column sums of dy. A null dx (or db) skips it.
  template <class T>
  static void backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                       std::ptrdiff_t rows, std::ptrdiff_t in, std::ptrdiff_t out) {
    using namespace cuda_detail;
    if (rows == 0 || out == 0 || in == 0) return;
    if (dx != nullptr) run(linear_input_grad_plan(rows, in, out), T(1), w, dy, T(1), dx);
    run(linear_weight_grad_plan(rows, in, out), T(1), x, dy, T(1), dw);
    if (db != nullptr) {
      const auto tiles = static_cast<unsigned>((out + column_tile - 1) / column_tile);
      add_column_sums<<<tiles, dim3(column_tile, row_lanes), 0, stream()>>>(dy, db, rows, out);
      ECGSSL_CUDA_CHECK_LAUNCH();
    }
  }
};

}  // namespace ecgssl

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

// db[o] += sum_r dy[r, o], rows summed in order per column (deterministic, double for float).
template <class T>
__global__ void add_column_sums(const T* dy, T* db, std::int64_t rows, std::int64_t out) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < out;
       o += std::int64_t(blockDim.x) * gridDim.x) {
    accumulator_t<T> sum = 0;
    for (std::int64_t r = 0; r < rows; ++r) sum += dy[r * out + o];
    db[o] += static_cast<T>(sum);
  }
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
      add_column_sums<<<grid_for(std::size_t(out)), block_size, 0, stream()>>>(dy, db, rows, out);
      ECGSSL_CUDA_CHECK_LAUNCH();
    }
  }
};

}  // namespace ecgssl

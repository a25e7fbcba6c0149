#pragma once
/// \file span_mask_kernels.cuh
/// CUDA twin of implementation<nn::detail::span_mask_op, host> (spec §3.5): the same signature
/// over device pointers. The embedding gradient is one thread per feature summing the masked
/// rows in row order (the host's order), so it is deterministic and needs no atomics.

#include <cstddef>
#include <cstdint>

#include "../core/backend.hpp"
#include "../nn/detail/span_mask_kernels.hpp"
#include "detail/launch.cuh"

namespace ecgssl::cuda_detail {

template <class T>
__global__ void span_mask_forward(const T* x, const std::uint8_t* mask, const T* emb, T* y, std::size_t rows,
                                  std::size_t dim) {
  ECGSSL_GRID_STRIDE_LOOP(i, rows * dim) {
    const std::size_t r = i / dim;
    y[i] = mask[r] ? emb[i % dim] : x[i];
  }
}

template <class T>
__global__ void span_mask_input_backward(const T* dy, const std::uint8_t* mask, T* dx, std::size_t rows,
                                         std::size_t dim) {
  ECGSSL_GRID_STRIDE_LOOP(i, rows * dim) {
    if (!mask[i / dim]) dx[i] += dy[i];
  }
}

template <class T>
__global__ void span_mask_embedding_backward(const T* dy, const std::uint8_t* mask, T* demb, std::size_t rows,
                                             std::size_t dim) {
  ECGSSL_GRID_STRIDE_LOOP(f, dim) {
    T sum = 0;
    for (std::size_t r = 0; r < rows; ++r) {
      if (mask[r]) sum += dy[r * dim + f];
    }
    demb[f] += sum;
  }
}

}  // namespace ecgssl::cuda_detail

namespace ecgssl {

template <>
struct implementation<nn::detail::span_mask_op, cuda> {
  template <class T>
  static void forward(const T* x, const std::uint8_t* mask, const T* emb, T* y, std::size_t rows, std::size_t dim) {
    if (rows * dim == 0) return;
    cuda_detail::span_mask_forward<<<cuda_detail::grid_for(rows * dim), cuda_detail::block_size, 0,
                                     cuda_detail::stream()>>>(x, mask, emb, y, rows, dim);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
  template <class T>
  static void backward(const T* dy, const std::uint8_t* mask, T* demb, T* dx, std::size_t rows, std::size_t dim) {
    if (rows * dim == 0) return;
    cuda_detail::span_mask_input_backward<<<cuda_detail::grid_for(rows * dim), cuda_detail::block_size, 0,
                                            cuda_detail::stream()>>>(dy, mask, dx, rows, dim);
    ECGSSL_CUDA_CHECK_LAUNCH();
    cuda_detail::span_mask_embedding_backward<<<cuda_detail::grid_for(dim), cuda_detail::block_size, 0,
                                                cuda_detail::stream()>>>(dy, mask, demb, rows, dim);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
};

}  // namespace ecgssl

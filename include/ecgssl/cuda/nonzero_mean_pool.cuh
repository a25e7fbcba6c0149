#pragma once
/// \file nonzero_mean_pool.cuh
/// implementation<loss_detail::nonzero_mean_pool_op, cuda>: the non-zero-count temporal mean
/// pool of spec §4.3 (loss/detail/nonzero_mean_pool.hpp is its twin) on device tensors, for the
/// criteria that pool outside a loss (SimCLR, 3KG; spec §4.5). It launches cmsc_loss<T, cuda>'s
/// pooling kernels, whose per-element math (detail/cmsc_math.cuh: pool_column, pool_gradient)
/// replays the host's summation order and is tested against it in tests/cuda/test_cmsc_math.cpp.

#include <array>
#include <cstddef>

#include "../loss/detail/nonzero_mean_pool.hpp"
#include "cmsc_loss.cuh"
#include "detail/launch.cuh"
#include "device_tensor.cuh"

namespace ecgssl {

template <>
struct implementation<loss_detail::nonzero_mean_pool_op, cuda> {
  /// x: [segments, frames, dim] -> pooled, counts: [segments, dim] (device).
  template <class T>
  static void forward(const device_tensor<T, 3>& x, device_tensor<T, 2>& pooled, device_tensor<T, 2>& counts) {
    const std::size_t segments = x.shape()[0];
    const std::size_t frames = x.shape()[1];
    const std::size_t dim = x.shape()[2];
    pooled.ensure_shape(std::array<std::size_t, 2>{segments, dim});
    counts.ensure_shape(std::array<std::size_t, 2>{segments, dim});
    if (segments * dim == 0) return;
    cuda_detail::cmsc::pool_kernel<<<cuda_detail::grid_for(segments * dim), cuda_detail::block_size, 0,
                                     cuda_detail::stream()>>>(x.data(), segments, frames, dim, pooled.data(),
                                                              counts.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  /// dx: [segments, frames, dim] += dpooled / counts at every frame (device).
  template <class T>
  static void backward(const device_tensor<T, 2>& dpooled, const device_tensor<T, 2>& counts, device_tensor<T, 3>& dx) {
    require_shape(dpooled.shape(), std::array<std::size_t, 2>{dx.shape()[0], dx.shape()[2]}, "nonzero_mean_pool.grad");
    require_shape(counts.shape(), dpooled.shape(), "nonzero_mean_pool.counts");
    if (dx.size() == 0) return;
    cuda_detail::cmsc::pool_backward_kernel<<<cuda_detail::grid_for(dx.size()), cuda_detail::block_size, 0,
                                              cuda_detail::stream()>>>(
        dpooled.data(), counts.data(), dx.shape()[0], dx.shape()[1], dx.shape()[2], dx.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
};

}  // namespace ecgssl

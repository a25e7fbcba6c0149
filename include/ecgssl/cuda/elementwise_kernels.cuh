#pragma once
/// \file elementwise_kernels.cuh
/// CUDA twins of implementation<nn::detail::gelu_op / dropout_op, host> (spec §3.3, §3.4,
/// §3.7): same signatures over DEVICE pointers. Dropout draws element i's decision from
/// random_stream::uniform_float(i), which is ECGSSL_HOST_DEVICE, so the device mask equals the
/// host mask bit for bit.

#include <cstddef>
#include <cstdint>

#include "../core/backend.hpp"
#include "../core/philox.hpp"
#include "../nn/detail/elementwise_kernels.hpp"
#include "detail/launch.cuh"

namespace ecgssl::cuda_detail {

template <class T>
__global__ void gelu_forward(const T* x, T* y, std::size_t n) {
  const T inv_sqrt2 = static_cast<T>(0.70710678118654752440);
  ECGSSL_GRID_STRIDE_LOOP(i, n) { y[i] = T(0.5) * x[i] * (T(1) + erf_of(x[i] * inv_sqrt2)); }
}

template <class T>
__global__ void gelu_backward(const T* x, const T* dy, T* dx, std::size_t n) {
  const T inv_sqrt2 = static_cast<T>(0.70710678118654752440);
  const T inv_sqrt_2pi = static_cast<T>(0.39894228040143267794);
  ECGSSL_GRID_STRIDE_LOOP(i, n) {
    const T v = x[i];
    const T cdf = T(0.5) * (T(1) + erf_of(v * inv_sqrt2));
    const T pdf = inv_sqrt_2pi * exp_of(T(-0.5) * v * v);
    dx[i] += dy[i] * (cdf + v * pdf);
  }
}

template <class T>
__global__ void dropout_mask(random_stream rng, float threshold, T keep, T* scale, std::size_t n) {
  ECGSSL_GRID_STRIDE_LOOP(i, n) { scale[i] = rng.uniform_float(i) >= threshold ? keep : T(0); }
}

template <class T>
__global__ void multiply(const T* x, const T* scale, T* y, std::size_t n) {
  ECGSSL_GRID_STRIDE_LOOP(i, n) { y[i] = x[i] * scale[i]; }
}

template <class T>
__global__ void multiply_add(const T* dy, const T* scale, T* dx, std::size_t n) {
  ECGSSL_GRID_STRIDE_LOOP(i, n) { dx[i] += dy[i] * scale[i]; }
}

}  // namespace ecgssl::cuda_detail

namespace ecgssl {

template <>
struct implementation<nn::detail::gelu_op, cuda> {
  /// y = x/2 * (1 + erf(x / sqrt 2)).
  template <class T>
  static void forward(const T* x, T* y, std::size_t n) {
    if (n == 0) return;
    cuda_detail::gelu_forward<<<cuda_detail::grid_for(n), cuda_detail::block_size, 0,
                                cuda_detail::stream()>>>(x, y, n);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
  /// dx += dy * (Phi(x) + x * phi(x)).
  template <class T>
  static void backward(const T* x, const T* dy, T* dx, std::size_t n) {
    if (n == 0) return;
    cuda_detail::gelu_backward<<<cuda_detail::grid_for(n), cuda_detail::block_size, 0,
                                 cuda_detail::stream()>>>(x, dy, dx, n);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
};

template <>
struct implementation<nn::detail::dropout_op, cuda> {
  /// scale[i] = (uniform_float(i) >= p) / (1 - p), the host's decision for every i.
  template <class T>
  static void draw_mask(const random_stream& rng, double p, T* scale, std::size_t n) {
    if (n == 0) return;
    cuda_detail::dropout_mask<<<cuda_detail::grid_for(n), cuda_detail::block_size, 0,
                                cuda_detail::stream()>>>(rng, static_cast<float>(p),
                                                         static_cast<T>(1.0 / (1.0 - p)), scale, n);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
  /// y = x * scale.
  template <class T>
  static void apply(const T* x, const T* scale, T* y, std::size_t n) {
    if (n == 0) return;
    cuda_detail::
        multiply<<<cuda_detail::grid_for(n), cuda_detail::block_size, 0, cuda_detail::stream()>>>(
            x, scale, y, n);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
  /// dx += dy * scale.
  template <class T>
  static void backward(const T* dy, const T* scale, T* dx, std::size_t n) {
    if (n == 0) return;
    cuda_detail::multiply_add<<<cuda_detail::grid_for(n), cuda_detail::block_size, 0,
                                cuda_detail::stream()>>>(dy, scale, dx, n);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
};

}  // namespace ecgssl

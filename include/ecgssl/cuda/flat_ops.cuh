#pragma once
/// \file flat_ops.cuh
/// Operations over a model's flat parameter/gradient buffers written with thrust, so the same
/// code runs on the GPU (nvcc, THRUST_DEVICE_SYSTEM=CUDA) and on the CPU (g++ with
/// THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_CPP), which is how CI tests its logic without a GPU.

#include <thrust/device_vector.h>
#include <thrust/functional.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>

#include <cmath>

#include "../core/config.hpp"

namespace ecgssl::flat_ops {

namespace detail {
template <class T>
struct square_as_double {
  ECGSSL_HOST_DEVICE double operator()(T x) const { return static_cast<double>(x) * static_cast<double>(x); }
};
template <class T>
struct multiply_by {
  T factor;
  ECGSSL_HOST_DEVICE T operator()(T x) const { return x * factor; }
};
template <class T>
struct axpy {
  T alpha;
  ECGSSL_HOST_DEVICE T operator()(T x, T y) const { return alpha * x + y; }
};
}  // namespace detail

/// Sum of squares accumulated in double (the global gradient norm is its square root).
template <class T>
double sum_of_squares(const thrust::device_vector<T>& values) {
  return thrust::transform_reduce(values.begin(), values.end(), detail::square_as_double<T>{}, 0.0,
                                  thrust::plus<double>());
}

/// values *= factor
template <class T>
void scale(thrust::device_vector<T>& values, T factor) {
  thrust::transform(values.begin(), values.end(), values.begin(), detail::multiply_by<T>{factor});
}

/// y += alpha * x (e.g. gradient accumulation across micro-batches).
template <class T>
void add_scaled(const thrust::device_vector<T>& x, T alpha, thrust::device_vector<T>& y) {
  thrust::transform(x.begin(), x.end(), y.begin(), y.begin(), detail::axpy<T>{alpha});
}

/// Scales gradients so their global L2 norm is at most max_norm; returns the norm before
/// clipping. max_norm <= 0 disables clipping (the reference's clip_norm = 0).
template <class T>
double clip_by_global_norm(thrust::device_vector<T>& grads, double max_norm) {
  const double norm = std::sqrt(sum_of_squares(grads));
  if (max_norm > 0.0 && norm > max_norm) scale(grads, static_cast<T>(max_norm / (norm + 1e-6)));
  return norm;
}

}  // namespace ecgssl::flat_ops

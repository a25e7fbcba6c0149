#pragma once
/// \file flat_ops.cuh
/// Operations over a model's flat parameter/gradient buffers written with thrust, so the same
/// code runs on the GPU (nvcc, THRUST_DEVICE_SYSTEM=CUDA) and on the CPU (g++ with
/// THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_CPP), which is how CI tests its logic without a GPU.

#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>

#include <cmath>
#include <cstddef>

#include "../core/config.hpp"

namespace ecgssl::flat_ops {

namespace detail {
template <class T>
struct square_as_double {
  ECGSSL_HOST_DEVICE double operator()(T x) const {
    return static_cast<double>(x) * static_cast<double>(x);
  }
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

// ---- Raw-pointer forms, for device_buffer storage (memory of the thrust device system). The
// first argument is a thrust execution policy: with the CUDA backend on a stream other than the
// legacy default one, pass thrust::cuda::par.on(stream) so the op is ordered after the work
// that produced its input.

/// Sum of squares of values[0, n) accumulated in double.
template <class Policy, class T>
double sum_of_squares(const Policy& policy, const T* values, std::size_t n) {
  return thrust::transform_reduce(policy, values, values + n, detail::square_as_double<T>{}, 0.0,
                                  thrust::plus<double>());
}

/// values[0, n) *= factor
template <class Policy, class T>
void scale(const Policy& policy, T* values, std::size_t n, T factor) {
  thrust::transform(policy, values, values + n, values, detail::multiply_by<T>{factor});
}

/// y[0, n) += alpha * x[0, n)
template <class Policy, class T>
void add_scaled(const Policy& policy, const T* x, T alpha, T* y, std::size_t n) {
  thrust::transform(policy, x, x + n, y, y, detail::axpy<T>{alpha});
}

/// As clip_by_global_norm above, over grads[0, n); returns the norm before clipping.
template <class Policy, class T>
double clip_by_global_norm(const Policy& policy, T* grads, std::size_t n, double max_norm) {
  const double norm = std::sqrt(sum_of_squares(policy, static_cast<const T*>(grads), n));
  if (max_norm > 0.0 && norm > max_norm)
    scale(policy, grads, n, static_cast<T>(max_norm / (norm + 1e-6)));
  return norm;
}

}  // namespace ecgssl::flat_ops

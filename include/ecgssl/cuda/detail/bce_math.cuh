#pragma once
/// \file bce_math.cuh
/// The math of BCE-with-logits (spec §6.2) over flat buffers, written with thrust so that the
/// same code runs on the GPU (bce_with_logits<T, cuda>) and, compiled by g++ with
/// THRUST_DEVICE_SYSTEM=CPP, on the host where CI tests it against the host loss. Every
/// function takes a thrust execution policy first (thrust::cuda::par.on(stream) on the GPU,
/// thrust::device under the CPP system). Terms are evaluated and summed in double.

#include <thrust/execution_policy.h>
#include <thrust/find.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/zip_iterator.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>
#include <thrust/tuple.h>

#include <cmath>
#include <cstddef>
#include <string>

#include "../../core/config.hpp"
#include "../../core/error.hpp"

namespace ecgssl::cuda_detail::bce {

// max(x, 0) - x y + log(1 + exp(-|x|)) for one (logit, target), in double.
template <class T>
struct term {
  ECGSSL_HOST_DEVICE double operator()(const thrust::tuple<T, T>& xy) const {
    const double x = static_cast<double>(thrust::get<0>(xy));
    const double y = static_cast<double>(thrust::get<1>(xy));
    return (x > 0.0 ? x : 0.0) - x * y + ::log1p(::exp(-::fabs(x)));
  }
};

// sigma(x), the two-sided form that never overflows.
template <class T>
struct sigmoid_of {
  ECGSSL_HOST_DEVICE T operator()(T xt) const {
    const double x = static_cast<double>(xt);
    return static_cast<T>(x >= 0.0 ? 1.0 / (1.0 + ::exp(-x)) : ::exp(x) / (1.0 + ::exp(x)));
  }
};

// g + scale (s - y)
template <class T>
struct gradient_step {
  T scale;
  ECGSSL_HOST_DEVICE T operator()(const thrust::tuple<T, T>& sy, T g) const {
    return g + scale * (thrust::get<0>(sy) - thrust::get<1>(sy));
  }
};

// NaN and +-inf are exactly the values for which x - x is not 0.
template <class T>
struct not_finite {
  ECGSSL_HOST_DEVICE bool operator()(T x) const { return !(x - x == T(0)); }
};

template <class T>
struct equals_one {
  ECGSSL_HOST_DEVICE std::size_t operator()(T y) const { return y == T(1) ? 1u : 0u; }
};

/// Σ_i [max(x_i, 0) - x_i y_i + log(1 + exp(-|x_i|))] over [0, n), in double.
template <class Policy, class T>
double summed_loss(const Policy& policy, const T* x, const T* y, std::size_t n) {
  auto first = thrust::make_zip_iterator(thrust::make_tuple(x, y));
  return thrust::transform_reduce(policy, first, first + n, term<T>{}, 0.0, thrust::plus<double>());
}

/// s[i] = sigma(x[i]).
template <class Policy, class T>
void sigmoid(const Policy& policy, const T* x, T* s, std::size_t n) {
  thrust::transform(policy, x, x + n, s, sigmoid_of<T>{});
}

/// g[i] += scale (s[i] - y[i]).
template <class Policy, class T>
void accumulate_gradient(const Policy& policy, const T* s, const T* y, T scale, T* g,
                         std::size_t n) {
  auto first = thrust::make_zip_iterator(thrust::make_tuple(s, y));
  thrust::transform(policy, first, first + n, g, g, gradient_step<T>{scale});
}

/// Index of the first NaN or infinite value of x[0, n), or n when all are finite.
template <class Policy, class T>
std::size_t first_non_finite(const Policy& policy, const T* x, std::size_t n) {
  return static_cast<std::size_t>(thrust::find_if(policy, x, x + n, not_finite<T>{}) - x);
}

/// The host losses' loss_detail::require_finite on device values: data_error naming `field`
/// and the flat index of the first NaN or infinite value of x[0, n).
template <class Policy, class T>
void require_finite(const Policy& policy, const T* x, std::size_t n, const char* field) {
  if (const std::size_t bad = first_non_finite(policy, x, n); bad != n) {
    throw data_error(at_field(field), "non-finite value at flat index " + std::to_string(bad), "finite inputs");
  }
}

/// Number of entries equal to 1 (the reference's positive labels).
template <class Policy, class T>
std::size_t count_positive(const Policy& policy, const T* y, std::size_t n) {
  return thrust::transform_reduce(policy, y, y + n, equals_one<T>{}, std::size_t(0),
                                  thrust::plus<std::size_t>());
}

}  // namespace ecgssl::cuda_detail::bce

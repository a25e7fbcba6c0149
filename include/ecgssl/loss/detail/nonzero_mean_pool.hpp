#pragma once
/// \file nonzero_mean_pool.hpp
/// Temporal mean pooling with the reference's elementwise non-zero count (spec §4.3, §6.1):
/// g[s, d] = Σ_t x[s, t, d] / #{t : x[s, t, d] != 0}. Internal.

#include <cstddef>
#include <cstdint>

#include "../../core/backend.hpp"
#include "../../core/tensor.hpp"
#include "../../core/threading.hpp"

namespace ecgssl::loss_detail {

/// x: [segments, frames, dim] -> pooled: [segments, dim]; counts: [segments, dim] (the divisors).
/// A column that is zero at every frame pools to 0 (the reference would divide 0 by 0); its
/// gradient uses divisor 1 accordingly.
template <class T>
void nonzero_mean_pool(const tensor<T, 3>& x, tensor<T, 2>& pooled, tensor<T, 2>& counts) {
  const std::size_t segments = x.shape()[0];
  const std::size_t frames = x.shape()[1];
  const std::size_t dim = x.shape()[2];
  pooled.resize({segments, dim});
  counts.resize({segments, dim});
  parallel_for(static_cast<std::int64_t>(segments), [&](std::int64_t si) {
    const auto s = static_cast<std::size_t>(si);
    T* g = pooled.data() + s * dim;
    T* n = counts.data() + s * dim;
    for (std::size_t d = 0; d < dim; ++d) {
      g[d] = T(0);
      n[d] = T(0);
    }
    for (std::size_t t = 0; t < frames; ++t) {
      const T* xt = x.data() + (s * frames + t) * dim;
      for (std::size_t d = 0; d < dim; ++d) {
        g[d] += xt[d];
        n[d] += xt[d] != T(0) ? T(1) : T(0);
      }
    }
    for (std::size_t d = 0; d < dim; ++d) {
      if (n[d] == T(0)) n[d] = T(1);
      g[d] /= n[d];
    }
  });
}

/// dx: [segments, frames, dim] += dpooled[s, d] / counts[s, d] at every frame (the count is
/// piecewise constant, so it carries no gradient).
template <class T>
void nonzero_mean_pool_backward(const tensor<T, 2>& dpooled, const tensor<T, 2>& counts, tensor<T, 3>& dx) {
  const std::size_t segments = dx.shape()[0];
  const std::size_t frames = dx.shape()[1];
  const std::size_t dim = dx.shape()[2];
  parallel_for(static_cast<std::int64_t>(segments), [&](std::int64_t si) {
    const auto s = static_cast<std::size_t>(si);
    const T* dg = dpooled.data() + s * dim;
    const T* n = counts.data() + s * dim;
    for (std::size_t t = 0; t < frames; ++t) {
      T* g = dx.data() + (s * frames + t) * dim;
      for (std::size_t d = 0; d < dim; ++d) g[d] += dg[d] / n[d];
    }
  });
}

/// Tag of the pooling as a backend operation (criteria that pool outside a loss, spec §4.5):
/// implementation<nonzero_mean_pool_op, B> has forward(x, pooled, counts) and
/// backward(dpooled, counts, dx) on B's tensors; cuda's is in <ecgssl/cuda/nonzero_mean_pool.cuh>.
struct nonzero_mean_pool_op {};

}  // namespace ecgssl::loss_detail

namespace ecgssl {

template <>
struct implementation<loss_detail::nonzero_mean_pool_op, host> {
  template <class T>
  static void forward(const tensor<T, 3>& x, tensor<T, 2>& pooled, tensor<T, 2>& counts) {
    loss_detail::nonzero_mean_pool(x, pooled, counts);
  }
  template <class T>
  static void backward(const tensor<T, 2>& dpooled, const tensor<T, 2>& counts, tensor<T, 3>& dx) {
    loss_detail::nonzero_mean_pool_backward(dpooled, counts, dx);
  }
};

}  // namespace ecgssl

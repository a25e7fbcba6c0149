#pragma once
/// \file norm_kernels.cuh
/// CUDA twin of implementation<nn::detail::norm_op, host> (layer_norm spec §3.4, §3.7;
/// group_norm spec §3.3): same signature over DEVICE pointers. One block per row for the
/// statistics and the input gradient, one block per feature for dgamma/dbeta; block reductions
/// (CUB) in a fixed tree, accumulated in double for float, so results are deterministic.

#include <cub/block/block_reduce.cuh>

#include <cstddef>
#include <cstdint>

#include "../core/backend.hpp"
#include "../core/threading.hpp"
#include "../nn/detail/norm_kernels.hpp"
#include "detail/index_math.cuh"
#include "detail/launch.cuh"

namespace ecgssl::cuda_detail {

inline constexpr int norm_block = 256;

// Pair of sums reduced together.
template <class A>
struct sum2 {
  A a, b;
};
template <class A>
struct add_sum2 {
  __device__ sum2<A> operator()(const sum2<A>& x, const sum2<A>& y) const {
    return {x.a + y.a, x.b + y.b};
  }
};

// Block r normalises row r of x: [rows, inner].
template <class T>
__global__ void norm_forward(norm_dims d, const T* x, const T* gamma, const T* beta, T* y, T* mean,
                             T* rstd, double eps) {
  using acc = accumulator_t<T>;
  using reduce = cub::BlockReduce<acc, norm_block>;
  __shared__ typename reduce::TempStorage storage;
  __shared__ acc shared_mu, shared_rs;
  const std::int64_t r = blockIdx.x;
  const T* xr = x + r * d.inner;
  T* yr = y + r * d.inner;
  acc sum = 0;
  for (std::int64_t j = threadIdx.x; j < d.inner; j += norm_block) sum += static_cast<acc>(xr[j]);
  sum = reduce(storage).Sum(sum);
  if (threadIdx.x == 0) shared_mu = sum / static_cast<acc>(d.inner);
  __syncthreads();
  const acc mu = shared_mu;
  acc sq = 0;
  for (std::int64_t j = threadIdx.x; j < d.inner; j += norm_block) {
    const acc dev = static_cast<acc>(xr[j]) - mu;
    sq += dev * dev;
  }
  sq = reduce(storage).Sum(sq);
  if (threadIdx.x == 0) {
    // Biased variance, as torch.nn.LayerNorm / GroupNorm.
    shared_rs = acc(1) / sqrt(sq / static_cast<acc>(d.inner) + static_cast<acc>(eps));
    mean[r] = static_cast<T>(mu);
    rstd[r] = static_cast<T>(shared_rs);
  }
  __syncthreads();
  const T m = static_cast<T>(mu);
  const T s = static_cast<T>(shared_rs);
  for (std::int64_t j = threadIdx.x; j < d.inner; j += norm_block) {
    T v = (xr[j] - m) * s;
    if (gamma != nullptr) {
      const std::int64_t f = d.feature_of(r, j);
      v = v * gamma[f] + beta[f];
    }
    yr[j] = v;
  }
}

// Block r: dx_r += rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * gamma.
template <class T>
__global__ void norm_backward_input(norm_dims d, const T* x, const T* gamma, const T* mean,
                                    const T* rstd, const T* dy, T* dx) {
  using acc = accumulator_t<T>;
  using reduce = cub::BlockReduce<sum2<acc>, norm_block>;
  __shared__ typename reduce::TempStorage storage;
  __shared__ sum2<acc> shared;
  const std::int64_t r = blockIdx.x;
  const T* xr = x + r * d.inner;
  const T* dyr = dy + r * d.inner;
  T* dxr = dx + r * d.inner;
  const acc m = mean[r];
  const acc s = rstd[r];
  sum2<acc> part{0, 0};
  for (std::int64_t j = threadIdx.x; j < d.inner; j += norm_block) {
    const acc gam = gamma == nullptr ? acc(1) : static_cast<acc>(gamma[d.feature_of(r, j)]);
    const acc dxhat = static_cast<acc>(dyr[j]) * gam;
    part.a += dxhat;
    part.b += dxhat * (static_cast<acc>(xr[j]) - m) * s;
  }
  part = reduce(storage).Reduce(part, add_sum2<acc>{});
  if (threadIdx.x == 0) shared = part;
  __syncthreads();
  const acc n = static_cast<acc>(d.inner);
  const acc mean_dxhat = shared.a / n;
  const acc mean_dxhat_xhat = shared.b / n;
  for (std::int64_t j = threadIdx.x; j < d.inner; j += norm_block) {
    const acc gam = gamma == nullptr ? acc(1) : static_cast<acc>(gamma[d.feature_of(r, j)]);
    const acc xhat = (static_cast<acc>(xr[j]) - m) * s;
    const acc dxhat = static_cast<acc>(dyr[j]) * gam;
    dxr[j] += static_cast<T>(s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
  }
}

// Block f: dgamma[f] += sum dy * xhat, dbeta[f] += sum dy over the elements of feature f.
template <class T>
__global__ void norm_backward_affine(norm_dims d, const T* x, const T* mean, const T* rstd,
                                     const T* dy, T* dgamma, T* dbeta) {
  using acc = accumulator_t<T>;
  using reduce = cub::BlockReduce<sum2<acc>, norm_block>;
  __shared__ typename reduce::TempStorage storage;
  const std::int64_t f = blockIdx.x;
  sum2<acc> part{0, 0};
  for (std::int64_t k = threadIdx.x; k < d.per_feature(); k += norm_block) {
    const std::int64_t e = norm_feature_element(d, f, k);
    const std::int64_t r = e / d.inner;
    const acc g = static_cast<acc>(dy[e]);
    part.a += g * (static_cast<acc>(x[e]) - static_cast<acc>(mean[r])) * static_cast<acc>(rstd[r]);
    part.b += g;
  }
  part = reduce(storage).Reduce(part, add_sum2<acc>{});
  if (threadIdx.x == 0) {
    dgamma[f] += static_cast<T>(part.a);
    dbeta[f] += static_cast<T>(part.b);
  }
}

inline norm_dims to_dims(const nn::detail::norm_geometry& g) {
  return norm_dims{static_cast<std::int64_t>(g.rows), static_cast<std::int64_t>(g.inner),
                   static_cast<std::int64_t>(g.groups), static_cast<std::int64_t>(g.span),
                   static_cast<std::int64_t>(g.features)};
}

}  // namespace ecgssl::cuda_detail

namespace ecgssl {

template <>
struct implementation<nn::detail::norm_op, cuda> {
  using geometry = nn::detail::norm_geometry;

  /// y = (x - mean) * rstd * gamma + beta per row; writes mean/rstd (one per row, device).
  template <class T>
  static void forward(const geometry& g, const T* x, const T* gamma, const T* beta, T* y, T* mean,
                      T* rstd, double eps) {
    if (g.rows == 0) return;
    cuda_detail::norm_forward<<<static_cast<unsigned>(g.rows), cuda_detail::norm_block, 0,
                                cuda_detail::stream()>>>(cuda_detail::to_dims(g), x, gamma, beta, y,
                                                         mean, rstd, eps);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  /// dx += ...; dgamma += sum dy * xhat; dbeta += sum dy. Null dx or dgamma skip that part.
  template <class T>
  static void backward(const geometry& g, const T* x, const T* gamma, const T* mean, const T* rstd,
                       const T* dy, T* dx, T* dgamma, T* dbeta) {
    if (g.rows == 0) return;
    const auto d = cuda_detail::to_dims(g);
    if (dx != nullptr) {
      cuda_detail::norm_backward_input<<<static_cast<unsigned>(g.rows), cuda_detail::norm_block, 0,
                                         cuda_detail::stream()>>>(d, x, gamma, mean, rstd, dy, dx);
      ECGSSL_CUDA_CHECK_LAUNCH();
    }
    if (dgamma != nullptr && g.features != 0) {
      cuda_detail::norm_backward_affine<<<static_cast<unsigned>(g.features),
                                          cuda_detail::norm_block, 0, cuda_detail::stream()>>>(
          d, x, mean, rstd, dy, dgamma, dbeta);
      ECGSSL_CUDA_CHECK_LAUNCH();
    }
  }
};

}  // namespace ecgssl

#pragma once
/// \file cmsc_loss.cuh
/// cmsc_loss<T, cuda>: the CMSC loss of spec §4.3 (reference cross-segment form, both
/// reductions) on device encoder outputs or pooled embeddings, with the host loss's options,
/// validation and messages (loss/cmsc_loss.hpp is its twin and oracle). Targets are validated on
/// the host and uploaded once per set_targets; Λ = Â B̂ᵀ / τ and the gradient GEMMs run on cuBLAS,
/// the pooling, normalisation, softmaxes, loss terms and dΛ in kernels whose reductions have a
/// fixed shape (deterministic; no atomics). The per-element math is in detail/cmsc_math.cuh.
/// The paper's NT-Xent form (cmsc_form::nt_xent_2n) is not ported: constructing it is a
/// config_error.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <thrust/system/cuda/execution_policy.h>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../loss/cmsc_loss.hpp"
#include "detail/bce_math.cuh"
#include "detail/cmsc_math.cuh"
#include "detail/launch.cuh"
#include "device_buffer.cuh"
#include "device_tensor.cuh"

namespace ecgssl::cuda_detail::cmsc {

// x: [segments, frames, dim] -> pooled, counts: [segments, dim].
template <class T>
__global__ void pool_kernel(const T* x, std::size_t segments, std::size_t frames, std::size_t dim,
                            T* pooled, T* counts) {
  ECGSSL_GRID_STRIDE_LOOP(i, segments * dim) {
    pool_column(x, frames, dim, i / dim, i % dim, pooled + i, counts + i);
  }
}

// dx: [segments, frames, dim] += dpooled / counts.
template <class T>
__global__ void pool_backward_kernel(const T* dpooled, const T* counts, std::size_t segments,
                                     std::size_t frames, std::size_t dim, T* dx) {
  ECGSSL_GRID_STRIDE_LOOP(i, segments * frames * dim) {
    const std::size_t d = i % dim;
    const std::size_t s = i / (frames * dim);
    dx[i] += pool_gradient(dpooled[s * dim + d], counts[s * dim + d]);
  }
}

// Fixed-shape tree sum over `lanes` shared partials; every thread of the block must call it.
template <class A>
__device__ A block_sum(A* shared, A partial) {
  shared[threadIdx.x] = partial;
  __syncthreads();
  for (unsigned stride = lanes / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  const A total = shared[0];
  __syncthreads();  // shared is reused by the next reduction
  return total;
}

template <class A>
__device__ A block_max(A* shared, A partial) {
  shared[threadIdx.x] = partial;
  __syncthreads();
  for (unsigned stride = lanes / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      const A other = shared[threadIdx.x + stride];
      if (other > shared[threadIdx.x]) shared[threadIdx.x] = other;
    }
    __syncthreads();
  }
  const A total = shared[0];
  __syncthreads();
  return total;
}

// One block (of `lanes` threads) per stacked row r: hat[r] = g[source(r)] / max(‖.‖, eps),
// norms[r] = ‖g[source(r)]‖.
template <class T>
__global__ void normalize_kernel(const T* g, const std::int64_t* first, const std::int64_t* second,
                                 std::size_t n, std::size_t dim, T eps, T* hat, T* norms) {
  __shared__ acc_t<T> shared[lanes];
  for (std::size_t r = blockIdx.x; r < 2 * n; r += gridDim.x) {
    const T* row = g + static_cast<std::size_t>(stacked_source(r, n, first, second)) * dim;
    const acc_t<T> sq = block_sum(shared, lane_sum_of_squares(row, dim, threadIdx.x));
    const T norm = norm_from<T>(sq);
    const T inv = inverse_norm(norm, eps);
    if (threadIdx.x == 0) norms[r] = norm;
    for (std::size_t c = threadIdx.x; c < dim; c += lanes) hat[r * dim + c] = row[c] * inv;
  }
}

// One block per line of Λ [n, n]: line l holds logits[l * line_stride + k * elem_stride], k < n
// (rows: n, 1; columns: 1, n). lse[l] = log Σ_k exp, probs at the same positions.
template <class T>
__global__ void softmax_lines_kernel(const T* logits, std::size_t n, std::size_t line_stride,
                                     std::size_t elem_stride, T* lse, T* probs) {
  __shared__ acc_t<T> shared_sum[lanes];
  __shared__ T shared_max[lanes];
  for (std::size_t l = blockIdx.x; l < n; l += gridDim.x) {
    const T* line = logits + l * line_stride;
    const T top = block_max(shared_max, lane_max(line, n, elem_stride, threadIdx.x));
    const acc_t<T> sum = block_sum(shared_sum, lane_exp_sum(line, n, elem_stride, top, threadIdx.x));
    const T value = log_sum_exp_from(top, sum);
    if (threadIdx.x == 0) lse[l] = value;
    for (std::size_t k = threadIdx.x; k < n; k += lanes) {
      probs[l * line_stride + k * elem_stride] = probability(line[k * elem_stride], value);
    }
  }
}

// One block: sums[0], sums[1] = Σ of the row and column terms over the positives.
template <class T>
__global__ void positive_terms_kernel(const T* logits, const T* positive, const T* row_lse,
                                      const T* col_lse, const T* row_pos, const T* col_pos,
                                      bool all_positives, std::size_t n, acc_t<T>* sums) {
  __shared__ acc_t<T> shared[lanes];
  acc_t<T> rs = 0;
  acc_t<T> cs = 0;
  lane_positive_terms(logits, positive, row_lse, col_lse, row_pos, col_pos, all_positives, n,
                      threadIdx.x, &rs, &cs);
  const acc_t<T> row_sum = block_sum(shared, rs);
  const acc_t<T> col_sum = block_sum(shared, cs);
  if (threadIdx.x == 0) {
    sums[0] = row_sum;
    sums[1] = col_sum;
  }
}

template <class T>
__global__ void dlogits_kernel(const T* positive, const T* row_pos, const T* col_pos,
                               const T* row_probs, const T* col_probs, bool all_positives, T half,
                               std::size_t n, T* dlogits) {
  ECGSSL_GRID_STRIDE_LOOP(e, n * n) {
    const std::size_t i = e / n;
    const std::size_t j = e % n;
    dlogits[e] = dlogit(all_positives, half, positive[e], row_pos[i], col_pos[j], row_probs[e],
                        col_probs[e]);
  }
}

// dg[source(r), c] += d_hat[r, c] / max(norm_r, eps) (the norm is detached).
template <class T>
__global__ void scatter_gradient_kernel(const T* d_hat, const T* norms, const std::int64_t* first,
                                        const std::int64_t* second, std::size_t n, std::size_t dim,
                                        T eps, T* dg) {
  ECGSSL_GRID_STRIDE_LOOP(e, 2 * n * dim) {
    const std::size_t r = e / dim;
    const std::size_t c = e % dim;
    const T step = d_hat[e] * inverse_norm(norms[r], eps);
    dg[static_cast<std::size_t>(stacked_source(r, n, first, second)) * dim + c] += step;
  }
}

/// Blocks for a one-block-per-line kernel (the kernels loop when lines exceed the grid).
inline unsigned blocks_for_lines(std::size_t lines) {
  return static_cast<unsigned>(lines < 65535u ? (lines == 0 ? 1 : lines) : 65535u);
}

}  // namespace ecgssl::cuda_detail::cmsc

namespace ecgssl {

/// CMSC (spec §4.3, the reference's cross-segment form) on the cuda backend: same options,
/// targets, value and gradients as cmsc_loss<T, host>.
template <class T>
class cmsc_loss<T, cuda> {
 public:
  using scalar_type = T;
  using backend_type = cuda;
  using input_type = device_tensor<T, 3>;  // encoder outputs: [2N, frames, dim] on the device

  explicit cmsc_loss(cmsc_options options = {}) : options_(options) {
    if (!(options.temperature > 0)) {
      throw config_error(at_field("cmsc.temperature"), std::to_string(options.temperature), "> 0");
    }
    if (options.form != cmsc_form::cross_segment) {
      throw config_error(at_field("cmsc.form"), "nt_xent_2n",
                         "cross_segment (the cuda backend implements the reference's "
                         "cross-segment form only; use cmsc_loss<T, host> for nt_xent_2n)");
    }
  }

  /// Same contract and errors as the host: record_ids and segments of the 2N rows, exactly N of
  /// each segment value 0/1, at least one positive pair. Uploads the pairing once.
  void set_targets(std::span<const std::int64_t> record_ids, std::span<const std::int64_t> segments) {
    if (record_ids.size() != segments.size()) {
      throw shape_error(at_field("cmsc.segments"), std::to_string(segments.size()) + " entries",
                        std::to_string(record_ids.size()) + " (one per record id)");
    }
    std::vector<std::int64_t> first, second;
    for (std::size_t i = 0; i < segments.size(); ++i) {
      if (segments[i] == 0) first.push_back(static_cast<std::int64_t>(i));
      else if (segments[i] == 1) second.push_back(static_cast<std::int64_t>(i));
      else throw data_error(at_field("cmsc.segments"), "segment " + std::to_string(segments[i]) + " at row " + std::to_string(i), "0 or 1");
    }
    if (first.size() != second.size() || first.empty()) {
      throw data_error(at_field("cmsc.segments"),
                       std::to_string(first.size()) + " first and " + std::to_string(second.size()) + " second segments",
                       "the same positive number of each (one pair = one of each)");
    }
    const std::size_t n = first.size();
    std::vector<T> positive(n * n, T(0));
    row_pos_host_.assign(n, T(0));
    col_pos_host_.assign(n, T(0));
    std::size_t positives = 0;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        if (record_ids[first[i]] != record_ids[second[j]]) continue;
        positive[i * n + j] = T(1);
        row_pos_host_[i] += T(1);
        col_pos_host_[j] += T(1);
        ++positives;
      }
    }
    if (positives == 0) {
      throw data_error(at_field("cmsc.record_ids"), "no first/second segment pair shares a record id",
                       "at least one positive pair");
    }
    n_ = n;
    positives_ = positives;
    first_.resize(n);
    first_.copy_from_host(std::span<const std::int64_t>(first));
    second_.resize(n);
    second_.copy_from_host(std::span<const std::int64_t>(second));
    positive_.resize(n * n);
    positive_.copy_from_host(std::span<const T>(positive));
    row_pos_.resize(n);
    row_pos_.copy_from_host(std::span<const T>(row_pos_host_));
    col_pos_.resize(n);
    col_pos_.copy_from_host(std::span<const T>(col_pos_host_));
  }

  /// x: [2N, frames, dim] (device). Non-finite inputs are a data_error naming the flat index.
  T forward(const input_type& x) {
    cuda_detail::bce::require_finite(thrust::cuda::par.on(cuda_detail::stream()), x.data(), x.size(),
                                     "cmsc.encoder_output");
    const std::size_t segments = x.shape()[0];
    frames_ = x.shape()[1];
    const std::size_t dim = x.shape()[2];
    pooled_.ensure_shape(std::array<std::size_t, 2>{segments, dim});
    counts_.ensure_shape(std::array<std::size_t, 2>{segments, dim});
    if (segments * dim > 0) {
      cuda_detail::cmsc::pool_kernel<<<cuda_detail::grid_for(segments * dim), cuda_detail::block_size, 0,
                                       cuda_detail::stream()>>>(x.data(), segments, frames_, dim,
                                                                pooled_.data(), counts_.data());
      ECGSSL_CUDA_CHECK_LAUNCH();
    }
    return forward_pooled(pooled_);
  }

  /// grad: [2N, frames, dim] (device) += upstream·dL/dx.
  void backward(T upstream, input_type& grad) {
    require_shape(grad.shape(), std::array<std::size_t, 3>{pooled_.shape()[0], frames_, pooled_.shape()[1]}, "cmsc.grad");
    dpooled_.ensure_shape(pooled_.shape());
    dpooled_.zero();
    backward_pooled(upstream, dpooled_);
    const std::size_t total = grad.size();
    if (total == 0) return;
    cuda_detail::cmsc::pool_backward_kernel<<<cuda_detail::grid_for(total), cuda_detail::block_size, 0,
                                              cuda_detail::stream()>>>(
        dpooled_.data(), counts_.data(), grad.shape()[0], frames_, grad.shape()[2], grad.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  /// The same loss on already pooled embeddings g: [2N, dim] (device). Blocking: the loss
  /// comes back to the host.
  T forward_pooled(const device_tensor<T, 2>& g) {
    namespace cm = cuda_detail::cmsc;
    const std::size_t rows = g.shape()[0];
    const std::size_t dim = g.shape()[1];
    if (n_ == 0) {
      throw config_error(at_field("cmsc.targets"), "no targets", "set_targets before forward");
    }
    if (rows != 2 * n_) {
      throw shape_error(at_field("cmsc.embeddings"), std::to_string(rows) + " rows",
                        std::to_string(2 * n_) + " (one per record id given to set_targets)");
    }
    const bool all = options_.reduction == cmsc_reduction::all_positives;
    if (!all) {
      for (std::size_t i = 0; i < n_; ++i) {
        if (row_pos_host_[i] == T(0) || col_pos_host_[i] == T(0)) {
          throw data_error(at_field("cmsc.record_ids"),
                           "segment " + std::to_string(i) + " of one position has no partner of the same record",
                           "every first segment's record among the second segments and vice versa");
        }
      }
    }
    const std::size_t n = n_;
    dim_ = dim;
    const cudaStream_t s = cuda_detail::stream();
    hat_.ensure_shape(std::array<std::size_t, 2>{rows, dim});
    norms_.resize(rows);
    cm::normalize_kernel<<<cm::blocks_for_lines(rows), cm::lanes, 0, s>>>(
        g.data(), first_.data(), second_.data(), n, dim, static_cast<T>(options_.norm_eps), hat_.data(),
        norms_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    logits_.ensure_shape(std::array<std::size_t, 2>{n, n});
    const T inv_tau = static_cast<T>(1.0 / options_.temperature);
    cuda_detail::run(cm::logits_plan(static_cast<std::int64_t>(n), static_cast<std::int64_t>(dim)), inv_tau,
                     hat_.data(), hat_.data(), T(0), logits_.data());
    row_probs_.ensure_shape(std::array<std::size_t, 2>{n, n});
    col_probs_.ensure_shape(std::array<std::size_t, 2>{n, n});
    row_lse_.resize(n);
    col_lse_.resize(n);
    cm::softmax_lines_kernel<<<cm::blocks_for_lines(n), cm::lanes, 0, s>>>(logits_.data(), n, n, 1,
                                                                           row_lse_.data(), row_probs_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    cm::softmax_lines_kernel<<<cm::blocks_for_lines(n), cm::lanes, 0, s>>>(logits_.data(), n, 1, n,
                                                                           col_lse_.data(), col_probs_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    sums_.resize(2);
    cm::positive_terms_kernel<<<1, cm::lanes, 0, s>>>(logits_.data(), positive_.data(), row_lse_.data(),
                                                      col_lse_.data(), row_pos_.data(), col_pos_.data(), all, n,
                                                      sums_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    std::array<cm::acc_t<T>, 2> sums{};
    sums_.copy_to_host(std::span<cm::acc_t<T>>(sums));
    const auto p = static_cast<cm::acc_t<T>>(all ? positives_ : n);
    return cm::loss_from<T>(sums[0], sums[1], p);
  }

  /// dg: [2N, dim] (device) += upstream·dL/dg.
  void backward_pooled(T upstream, device_tensor<T, 2>& dg) {
    namespace cm = cuda_detail::cmsc;
    const std::size_t n = n_;
    const std::size_t dim = dim_;
    require_shape(dg.shape(), std::array<std::size_t, 2>{2 * n, dim}, "cmsc.grad_embeddings");
    const bool all = options_.reduction == cmsc_reduction::all_positives;
    const T half = upstream * T(0.5) / static_cast<T>(all ? positives_ : n);
    const cudaStream_t s = cuda_detail::stream();
    dlogits_.ensure_shape(std::array<std::size_t, 2>{n, n});
    cm::dlogits_kernel<<<cuda_detail::grid_for(n * n), cuda_detail::block_size, 0, s>>>(
        positive_.data(), row_pos_.data(), col_pos_.data(), row_probs_.data(), col_probs_.data(), all, half, n,
        dlogits_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    d_hat_.ensure_shape(std::array<std::size_t, 2>{2 * n, dim});
    const T inv_tau = static_cast<T>(1.0 / options_.temperature);
    const auto ni = static_cast<std::int64_t>(n);
    const auto di = static_cast<std::int64_t>(dim);
    cuda_detail::run(cm::hat_a_grad_plan(ni, di), inv_tau, hat_.data(), dlogits_.data(), T(0), d_hat_.data());
    cuda_detail::run(cm::hat_b_grad_plan(ni, di), inv_tau, hat_.data(), dlogits_.data(), T(0), d_hat_.data());
    if (2 * n * dim == 0) return;
    cm::scatter_gradient_kernel<<<cuda_detail::grid_for(2 * n * dim), cuda_detail::block_size, 0, s>>>(
        d_hat_.data(), norms_.data(), first_.data(), second_.data(), n, dim, static_cast<T>(options_.norm_eps),
        dg.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  /// Pooled embeddings of the last forward ([2N, dim], batch order, device).
  [[nodiscard]] const device_tensor<T, 2>& pooled() const { return pooled_; }
  /// Λ of the last forward: [N, N] (device).
  [[nodiscard]] const device_tensor<T, 2>& logits() const { return logits_; }
  [[nodiscard]] std::size_t positives() const { return positives_; }
  [[nodiscard]] const cmsc_options& options() const { return options_; }

 private:
  cmsc_options options_;
  std::size_t n_ = 0, positives_ = 0, frames_ = 0, dim_ = 0;
  std::vector<T> row_pos_host_, col_pos_host_;
  device_buffer<std::int64_t> first_, second_;
  device_buffer<T> positive_, row_pos_, col_pos_, norms_, row_lse_, col_lse_;
  device_buffer<cuda_detail::cmsc::acc_t<T>> sums_;
  device_tensor<T, 2> pooled_, counts_, dpooled_, hat_, d_hat_, logits_, dlogits_, row_probs_, col_probs_;
};

}  // namespace ecgssl

#pragma once
/// \file nt_xent.cuh
/// nt_xent<T, cuda>: the NT-Xent loss of spec §4.5 (halves / adjacent pairing, the
/// identity-based multi-positive form, detached or differentiated norm) on device embeddings,
/// with the host loss's options, identities, checks and messages (loss/nt_xent.hpp is its twin
/// and oracle). The identities are resolved and checked on the host by the host class's own
/// statics and uploaded when they change; s = ẑẑᵀ/τ and the gradient GEMMs run on cuBLAS, the
/// normalisation, per-row loss and dL/ds in kernels with fixed-shape reductions (deterministic;
/// no atomics). Per-element math: detail/nt_xent_math.cuh.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <thrust/system/cuda/execution_policy.h>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../loss/nt_xent.hpp"
#include "detail/bce_math.cuh"
#include "detail/launch.cuh"
#include "detail/nt_xent_math.cuh"
#include "device_buffer.cuh"
#include "device_tensor.cuh"
#include "wav2vec2_contrastive.cuh"

namespace ecgssl::cuda_detail::ntx {

// One block per row i of sim [rows, rows]: row_loss[i] = Σ of the row's positive-pair losses,
// dsim[i] = dL/ds_i (before the 1/P scale).
template <class T>
__global__ void rows_kernel(const T* sim, const std::int64_t* ids, std::size_t rows, acc_t<T>* row_loss, T* dsim) {
  __shared__ acc_t<T> shared_sum[lanes];
  __shared__ T shared_max[lanes];
  for (std::size_t i = blockIdx.x; i < rows; i += gridDim.x) {
    const T* s = sim + i * rows;
    const T top = cmsc::block_max(shared_max, lane_row_max(s, rows, i, threadIdx.x));
    const T negatives = static_cast<T>(cmsc::block_sum(shared_sum, lane_negative_sum(s, ids, rows, i, top, threadIdx.x)));
    acc_t<T> loss = 0;
    acc_t<T> inverse = 0;
    lane_positive_terms(s, ids, rows, i, top, negatives, threadIdx.x, &loss, &inverse);
    const acc_t<T> row = cmsc::block_sum(shared_sum, loss);
    const T inverse_sum = static_cast<T>(cmsc::block_sum(shared_sum, inverse));
    if (threadIdx.x == 0) row_loss[i] = row;
    for (std::size_t k = threadIdx.x; k < rows; k += lanes) {
      dsim[i * rows + k] = dsim_entry(s[k], top, negatives, inverse_sum, k == i, ids[k] != ids[i]);
    }
  }
}

// dz[r, c] += d_hat[r, c] / max(‖z_r‖, eps) (the norm is detached).
template <class T>
__global__ void detached_backward_kernel(const T* d_hat, const T* norms, std::size_t rows, std::size_t dim, T eps,
                                         T* dz) {
  ECGSSL_GRID_STRIDE_LOOP(e, rows * dim) { dz[e] += detached_normalize_backward(d_hat[e], norms[e / dim], eps); }
}

}  // namespace ecgssl::cuda_detail::ntx

namespace ecgssl {

/// NT-Xent (spec §4.5) on the cuda backend: same options, identities, value and gradients as
/// nt_xent<T, host>.
template <class T>
class nt_xent<T, cuda> {
 public:
  using scalar_type = T;
  using backend_type = cuda;
  using input_type = device_tensor<T, 2>;  // [rows, dim] on the device

  explicit nt_xent(nt_xent_options options = {}) : options_(options) {
    nt_xent<T, host> validate(options);  // the host's option checks and messages
    (void)validate;
  }

  /// Identity of every row (host memory); rows of equal identity are positives. Replaces the
  /// pairing rule until clear_identities(). Checked against the row count at forward.
  void set_identities(std::span<const std::int64_t> identities) { identities_.assign(identities.begin(), identities.end()); }
  void clear_identities() { identities_.clear(); }

  /// z: [rows, dim] (device). Blocking: the loss comes back to the host.
  T forward(const input_type& z) {
    namespace nx = cuda_detail::ntx;
    const std::size_t rows = z.shape()[0];
    const std::size_t dim = z.shape()[1];
    upload_identities(rows);
    cuda_detail::bce::require_finite(thrust::cuda::par.on(cuda_detail::stream()), z.data(), z.size(),
                                     "nt_xent.embeddings");
    const cudaStream_t s = cuda_detail::stream();
    const unsigned row_blocks = cuda_detail::cmsc::blocks_for_lines(rows);
    z_hat_.ensure_shape(z.shape());
    norms_.resize(rows);
    cuda_detail::w2v::normalize_rows_kernel<<<row_blocks, nx::lanes, 0, s>>>(
        z.data(), rows, dim, static_cast<T>(options_.norm_eps), z_hat_.data(), norms_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    sim_.ensure_shape(std::array<std::size_t, 2>{rows, rows});
    const auto ri = static_cast<std::int64_t>(rows), di = static_cast<std::int64_t>(dim);
    cuda_detail::run(nx::similarity_plan(ri, di), static_cast<T>(1.0 / options_.temperature), z_hat_.data(),
                     z_hat_.data(), T(0), sim_.data());
    dsim_.ensure_shape(std::array<std::size_t, 2>{rows, rows});
    row_loss_.resize(rows);
    nx::rows_kernel<<<row_blocks, nx::lanes, 0, s>>>(sim_.data(), ids_.data(), rows, row_loss_.data(), dsim_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    total_.resize(1);
    cuda_detail::w2v::sum_kernel<<<1, nx::lanes, 0, s>>>(row_loss_.data(), rows, total_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    std::array<nx::acc_t<T>, 1> total{};
    total_.copy_to_host(std::span<nx::acc_t<T>>(total));
    dim_ = dim;
    return static_cast<T>(total[0] / static_cast<nx::acc_t<T>>(pairs_));
  }

  /// grad: [rows, dim] (device) += upstream·dL/dz.
  void backward(T upstream, input_type& grad) {
    namespace nx = cuda_detail::ntx;
    const std::size_t rows = rows_;
    const std::size_t dim = dim_;
    require_shape(grad.shape(), z_hat_.shape(), "nt_xent.grad");
    if (rows * dim == 0) return;
    const cudaStream_t s = cuda_detail::stream();
    // d ẑ = (ds + dsᵀ) ẑ · upstream / (P τ).
    const T scale = upstream / (static_cast<T>(pairs_) * static_cast<T>(options_.temperature));
    d_hat_.ensure_shape(z_hat_.shape());
    const auto ri = static_cast<std::int64_t>(rows), di = static_cast<std::int64_t>(dim);
    cuda_detail::run(nx::hat_grad_plan(ri, di), scale, z_hat_.data(), dsim_.data(), T(0), d_hat_.data());
    cuda_detail::run(nx::hat_grad_transposed_plan(ri, di), scale, z_hat_.data(), dsim_.data(), T(1), d_hat_.data());
    const T eps = static_cast<T>(options_.norm_eps);
    if (options_.detach_norm) {
      nx::detached_backward_kernel<<<cuda_detail::grid_for(rows * dim), cuda_detail::block_size, 0, s>>>(
          d_hat_.data(), norms_.data(), rows, dim, eps, grad.data());
    } else {
      cuda_detail::w2v::normalize_rows_backward_kernel<<<cuda_detail::cmsc::blocks_for_lines(rows), nx::lanes, 0, s>>>(
          z_hat_.data(), norms_.data(), d_hat_.data(), rows, dim, eps, grad.data());
    }
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  /// Number of ordered positive pairs of the last forward (fairseq's sample_size).
  [[nodiscard]] std::size_t positive_pairs() const { return pairs_; }
  [[nodiscard]] const nt_xent_options& options() const { return options_; }
  /// s = ẑẑᵀ/τ of the last forward: [rows, rows] (device).
  [[nodiscard]] const device_tensor<T, 2>& similarities() const { return sim_; }

 private:
  // Resolves the identities with the host's rules, counts the ordered positive pairs
  // (Σ over identities of c(c-1)) and uploads them when they changed.
  void upload_identities(std::size_t rows) {
    nt_xent<T, host>::resolve_identities(identities_, rows, options_.pairing, resolved_);
    if (rows == rows_ && resolved_ == uploaded_) return;
    std::unordered_map<std::int64_t, std::size_t> members;
    for (const std::int64_t id : resolved_) ++members[id];
    std::size_t pairs = 0;
    for (const auto& [id, c] : members) pairs += c * (c - 1);
    nt_xent<T, host>::require_positive_pairs(pairs);
    ids_.resize(rows);
    ids_.copy_from_host(std::span<const std::int64_t>(resolved_));
    uploaded_ = resolved_;
    rows_ = rows;
    pairs_ = pairs;
  }

  nt_xent_options options_;
  std::vector<std::int64_t> identities_, resolved_, uploaded_;
  std::size_t rows_ = 0, dim_ = 0, pairs_ = 0;
  device_buffer<std::int64_t> ids_;
  device_buffer<T> norms_;
  device_buffer<cuda_detail::ntx::acc_t<T>> row_loss_, total_;
  device_tensor<T, 2> z_hat_, sim_, dsim_, d_hat_;
};

}  // namespace ecgssl

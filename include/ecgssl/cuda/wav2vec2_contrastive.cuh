#pragma once
/// \file wav2vec2_contrastive.cuh
/// wav2vec2_contrastive<T, cuda>: the wav2vec 2.0 contrastive loss of spec §4.1 on device
/// predictions c and targets q, with the host loss's options, errors and negatives
/// (loss/wav2vec2_contrastive.hpp is its twin and oracle). The negatives are drawn on the host
/// by the host loss's own sampler (same Philox draws, so identical indices) or injected, then
/// uploaded; the normalisation, per-segment cosine GEMMs (cuBLAS, strided-batched), logits with
/// identical-negative masking, softmax, loss and gradients run on the device. Reductions have a
/// fixed shape (deterministic; no atomics). Per-element math: detail/wav2vec2_math.cuh.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include <thrust/system/cuda/execution_policy.h>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../loss/wav2vec2_contrastive.hpp"
#include "cmsc_loss.cuh"
#include "detail/bce_math.cuh"
#include "detail/launch.cuh"
#include "detail/wav2vec2_math.cuh"
#include "device_buffer.cuh"
#include "device_tensor.cuh"

namespace ecgssl::cuda_detail::w2v {

// One block per row: hat[r] = x[r] / max(‖x[r]‖, eps), norms[r] = ‖x[r]‖.
template <class T>
__global__ void normalize_rows_kernel(const T* x, std::size_t rows, std::size_t dim, T eps, T* hat, T* norms) {
  __shared__ acc_t<T> shared[lanes];
  for (std::size_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * dim;
    const acc_t<T> sq = cmsc::block_sum(shared, cmsc::lane_sum_of_squares(row, dim, threadIdx.x));
    const T norm = cmsc::norm_from<T>(sq);
    const T inv = cmsc::inverse_norm(norm, eps);
    if (threadIdx.x == 0) norms[r] = norm;
    for (std::size_t c = threadIdx.x; c < dim; c += lanes) hat[r * dim + c] = row[c] * inv;
  }
}

// One block per row: dx[r] += normalize_backward(dhat[r]) (norm differentiated).
template <class T>
__global__ void normalize_rows_backward_kernel(const T* hat, const T* norms, const T* dhat, std::size_t rows,
                                               std::size_t dim, T eps, T* dx) {
  __shared__ acc_t<T> shared[lanes];
  for (std::size_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* h = hat + r * dim;
    const T* d = dhat + r * dim;
    const T proj = static_cast<T>(cmsc::block_sum(shared, lane_dot(h, d, dim, threadIdx.x)));
    const T norm = norms[r];
    for (std::size_t c = threadIdx.x; c < dim; c += lanes) dx[r * dim + c] += normalize_backward(d[c], h[c], proj, norm, eps);
  }
}

// One thread per masked frame f = s M + t: probs[f, 0..K], frame_loss[f].
template <class T>
__global__ void frames_forward_kernel(const T* cos, const std::int64_t* negatives, const T* q,
                                      const std::int64_t* codes, std::size_t segments, std::size_t masked,
                                      std::size_t k, std::size_t dim, T inv_kappa, int mode, T* probs,
                                      T* frame_loss) {
  ECGSSL_GRID_STRIDE_LOOP(f, segments * masked) {
    const std::size_t s = f / masked;
    const std::size_t t = f % masked;
    frame_loss[f] = frame_forward(cos + s * masked * masked, negatives + f * k, masked, k, t, inv_kappa, mode,
                                  q + s * masked * dim, codes == nullptr ? nullptr : codes + s * masked, dim,
                                  probs + f * (k + 1));
  }
}

// One thread per masked frame: row t of segment s's dcos.
template <class T>
__global__ void frames_dcos_kernel(const T* probs, const std::int64_t* negatives, std::size_t segments,
                                   std::size_t masked, std::size_t k, T scale, T* dcos) {
  ECGSSL_GRID_STRIDE_LOOP(f, segments * masked) {
    const std::size_t s = f / masked;
    const std::size_t t = f % masked;
    frame_dcos(probs + f * (k + 1), negatives + f * k, masked, k, t, scale, dcos + s * masked * masked);
  }
}

// One block: *total = Σ values (fixed lane/tree order).
template <class T>
__global__ void sum_kernel(const T* values, std::size_t n, acc_t<T>* total) {
  __shared__ acc_t<T> shared[lanes];
  acc_t<T> partial = 0;
  for (std::size_t i = threadIdx.x; i < n; i += lanes) partial += values[i];
  const acc_t<T> sum = cmsc::block_sum(shared, partial);
  if (threadIdx.x == 0) *total = sum;
}

}  // namespace ecgssl::cuda_detail::w2v

namespace ecgssl {

/// wav2vec 2.0 contrastive loss (spec §4.1) on the cuda backend: same options, negatives,
/// value and gradients as wav2vec2_contrastive<T, host>.
template <class T>
class wav2vec2_contrastive<T, cuda> {
 public:
  using scalar_type = T;
  using backend_type = cuda;
  /// c and q ([S, M, dim]) on the device; gradients are shaped alike.
  struct input_type {
    device_tensor<T, 3> predictions;
    device_tensor<T, 3> targets;
  };

  explicit wav2vec2_contrastive(wav2vec2_contrastive_options options = {})
      : options_(options), sampler_(options) {}

  void set_step(std::int64_t step) { sampler_.set_step(step); }
  /// Injected negatives ([S, M, K], validated at forward as on the host) until clear_negatives().
  void set_negatives(const tensor<std::int64_t, 3>& indices) {
    injected_negatives_ = indices;
    injected_ = true;
  }
  void clear_negatives() { injected_ = false; }
  /// Code identity of each target frame ([S, M]) for identical_negatives::by_code.
  void set_target_codes(const tensor<std::int64_t, 2>& codes) { codes_host_ = codes; }

  /// Blocking: the loss comes back to the host.
  T forward(const input_type& in) {
    namespace w = cuda_detail::w2v;
    const auto& c = in.predictions;
    const auto& q = in.targets;
    require_shape(q.shape(), c.shape(), "wav2vec2_contrastive.targets (shape of predictions)");
    const std::size_t segments = c.shape()[0];
    const std::size_t masked = c.shape()[1];
    const std::size_t dim = c.shape()[2];
    const std::size_t k = options_.num_negatives;
    if (segments == 0 || dim == 0) {
      throw shape_error(at_field("wav2vec2_contrastive.predictions"), "got shape " + shape_string(c.shape()),
                        "[segments >= 1, masked frames >= 2, dim >= 1]");
    }
    if (masked < 2) {
      throw shape_error(at_field("wav2vec2_contrastive.masked_frames"), std::to_string(masked) + " masked frames per segment",
                        ">= 2 (negatives come from the segment's other masked frames)");
    }
    const auto policy = thrust::cuda::par.on(cuda_detail::stream());
    cuda_detail::bce::require_finite(policy, c.data(), c.size(), "wav2vec2_contrastive.predictions");
    cuda_detail::bce::require_finite(policy, q.data(), q.size(), "wav2vec2_contrastive.targets");
    const tensor<std::int64_t, 3>* negatives = &injected_negatives_;
    if (injected_) {
      wav2vec2_contrastive<T, host>::require_valid_negatives(injected_negatives_, segments, masked, k);
    } else {
      sampler_.sample_negatives(segments, masked);
      negatives = &sampler_.negatives();
    }
    int mode = w::by_value;
    const std::int64_t* codes = nullptr;
    if (options_.identical == identical_negatives::by_code) {
      require_shape(codes_host_.shape(), std::array<std::size_t, 2>{segments, masked}, "wav2vec2_contrastive.target_codes");
      codes_.resize(codes_host_.size());
      codes_.copy_from_host(std::span<const std::int64_t>(codes_host_.data(), codes_host_.size()));
      codes = codes_.data();
      mode = w::by_code;
    } else if (options_.identical == identical_negatives::keep) {
      mode = w::keep;
    }
    negatives_host_ = *negatives;
    negatives_.resize(negatives_host_.size());
    negatives_.copy_from_host(std::span<const std::int64_t>(negatives_host_.data(), negatives_host_.size()));

    const std::size_t rows = segments * masked;
    const T eps = static_cast<T>(options_.cosine_eps);
    const cudaStream_t s = cuda_detail::stream();
    c_hat_.ensure_shape(c.shape());
    q_hat_.ensure_shape(c.shape());
    c_norm_.resize(rows);
    q_norm_.resize(rows);
    const unsigned row_blocks = cuda_detail::cmsc::blocks_for_lines(rows);
    w::normalize_rows_kernel<<<row_blocks, w::lanes, 0, s>>>(c.data(), rows, dim, eps, c_hat_.data(), c_norm_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    w::normalize_rows_kernel<<<row_blocks, w::lanes, 0, s>>>(q.data(), rows, dim, eps, q_hat_.data(), q_norm_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    cosines_.ensure_shape(std::array<std::size_t, 3>{segments, masked, masked});
    const auto si = static_cast<std::int64_t>(segments), mi = static_cast<std::int64_t>(masked),
               di = static_cast<std::int64_t>(dim);
    cuda_detail::run(w::cosines_plan(si, mi, di), T(1), q_hat_.data(), c_hat_.data(), T(0), cosines_.data());
    probs_.ensure_shape(std::array<std::size_t, 3>{segments, masked, k + 1});
    frame_loss_.ensure_shape(std::array<std::size_t, 2>{segments, masked});
    w::frames_forward_kernel<<<cuda_detail::grid_for(rows), cuda_detail::block_size, 0, s>>>(
        cosines_.data(), negatives_.data(), q.data(), codes, segments, masked, k, dim,
        static_cast<T>(1.0 / options_.temperature), mode, probs_.data(), frame_loss_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    total_.resize(1);
    w::sum_kernel<<<1, w::lanes, 0, s>>>(frame_loss_.data(), rows, total_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    std::array<cuda_detail::cmsc::acc_t<T>, 1> total{};
    total_.copy_to_host(std::span<cuda_detail::cmsc::acc_t<T>>(total));
    segments_ = segments;
    masked_ = masked;
    dim_ = dim;
    sample_size_ = rows;
    return static_cast<T>(total[0]);
  }

  /// grad.predictions and grad.targets ([S, M, dim], device) += upstream·dL/dc, upstream·dL/dq.
  void backward(T upstream, input_type& grad) {
    namespace w = cuda_detail::w2v;
    const std::size_t segments = segments_, masked = masked_, dim = dim_;
    const std::size_t k = options_.num_negatives;
    const std::array<std::size_t, 3> shape{segments, masked, dim};
    require_shape(grad.predictions.shape(), shape, "wav2vec2_contrastive.grad.predictions");
    require_shape(grad.targets.shape(), shape, "wav2vec2_contrastive.grad.targets");
    const std::size_t rows = segments * masked;
    if (rows == 0) return;
    const T scale = upstream / static_cast<T>(options_.temperature);
    const cudaStream_t s = cuda_detail::stream();
    dcos_.ensure_shape(std::array<std::size_t, 3>{segments, masked, masked});
    w::frames_dcos_kernel<<<cuda_detail::grid_for(rows), cuda_detail::block_size, 0, s>>>(
        probs_.data(), negatives_.data(), segments, masked, k, scale, dcos_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    dc_hat_.ensure_shape(shape);
    dq_hat_.ensure_shape(shape);
    const auto si = static_cast<std::int64_t>(segments), mi = static_cast<std::int64_t>(masked),
               di = static_cast<std::int64_t>(dim);
    cuda_detail::run(w::prediction_grad_plan(si, mi, di), T(1), q_hat_.data(), dcos_.data(), T(0), dc_hat_.data());
    cuda_detail::run(w::target_grad_plan(si, mi, di), T(1), c_hat_.data(), dcos_.data(), T(0), dq_hat_.data());
    const T eps = static_cast<T>(options_.cosine_eps);
    const unsigned row_blocks = cuda_detail::cmsc::blocks_for_lines(rows);
    w::normalize_rows_backward_kernel<<<row_blocks, w::lanes, 0, s>>>(c_hat_.data(), c_norm_.data(), dc_hat_.data(), rows,
                                                                       dim, eps, grad.predictions.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    w::normalize_rows_backward_kernel<<<row_blocks, w::lanes, 0, s>>>(q_hat_.data(), q_norm_.data(), dq_hat_.data(), rows,
                                                                       dim, eps, grad.targets.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  /// S·M of the last forward.
  [[nodiscard]] std::size_t sample_size() const { return sample_size_; }
  /// Negative indices of the last forward (host copy): [S, M, K].
  [[nodiscard]] const tensor<std::int64_t, 3>& negatives() const { return negatives_host_; }
  /// Softmax probabilities of the last forward: [S, M, K+1] (device).
  [[nodiscard]] const device_tensor<T, 3>& probabilities() const { return probs_; }
  /// Per-frame losses of the last forward: [S, M] (device).
  [[nodiscard]] const device_tensor<T, 2>& frame_losses() const { return frame_loss_; }
  [[nodiscard]] const wav2vec2_contrastive_options& options() const { return options_; }

 private:
  wav2vec2_contrastive_options options_;
  wav2vec2_contrastive<T, host> sampler_;  // validates the options; draws the negatives
  bool injected_ = false;
  tensor<std::int64_t, 3> injected_negatives_, negatives_host_;
  tensor<std::int64_t, 2> codes_host_;
  device_buffer<std::int64_t> negatives_, codes_;
  device_buffer<T> c_norm_, q_norm_;
  device_buffer<cuda_detail::cmsc::acc_t<T>> total_;
  device_tensor<T, 3> c_hat_, q_hat_, dc_hat_, dq_hat_, cosines_, probs_, dcos_;
  device_tensor<T, 2> frame_loss_;
  std::size_t segments_ = 0, masked_ = 0, dim_ = 0, sample_size_ = 0;
};

}  // namespace ecgssl

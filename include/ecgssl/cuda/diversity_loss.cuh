#pragma once
/// \file diversity_loss.cuh
/// diversity_loss<T, cuda>: the codebook diversity loss of spec §3.8/§4.2 on device logits,
/// with the host loss's semantics (loss/diversity_loss.hpp is its twin and oracle). The row
/// softmaxes (one thread per (position, group) row) and p̄ (one thread per column, positions in
/// order, in double) run on the device; p̄ ([G·V]) comes back to the host (blocking), where the
/// perplexities, the loss and dL/dp̄ are computed by the host loss's own code; backward uploads
/// dL/dp̄ and accumulates the logits gradient on the device. Math: detail/gumbel_math.cuh.

#include <thrust/system/cuda/execution_policy.h>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../loss/diversity_loss.hpp"
#include "detail/bce_math.cuh"
#include "detail/gumbel_math.cuh"
#include "detail/launch.cuh"
#include "device_buffer.cuh"
#include "device_tensor.cuh"

namespace ecgssl::cuda_detail {

template <class T>
__global__ void diversity_softmax(std::size_t rows, std::size_t v_count, const T* logits, T* probs) {
  ECGSSL_GRID_STRIDE_LOOP(r, rows) { gumbel::diversity_softmax_row(r, v_count, logits, probs); }
}

template <class T>
__global__ void diversity_mean(std::size_t positions, std::size_t width, const T* probs, T* mean) {
  ECGSSL_GRID_STRIDE_LOOP(c, width) { mean[c] = gumbel::diversity_mean_column(c, positions, width, probs); }
}

template <class T>
__global__ void diversity_gradient(std::size_t rows, std::size_t groups, std::size_t v_count, const T* probs,
                                   const T* a, T scale, T* grad) {
  ECGSSL_GRID_STRIDE_LOOP(r, rows) { gumbel::diversity_gradient_row(r, groups, v_count, probs, a, scale, grad); }
}

}  // namespace ecgssl::cuda_detail

namespace ecgssl {

template <class T>
class diversity_loss<T, cuda> {
 public:
  using scalar_type = T;
  using backend_type = cuda;
  using input_type = device_tensor<T, 2>;  // logits: [positions, G·V] on the device

  explicit diversity_loss(diversity_loss_options options = {})
      : options_(diversity_detail::validated(options)) {}

  /// Returns L_d (blocking: p̄ comes back to the host); caches the softmaxes.
  T forward(const input_type& logits) {
    const std::size_t g = options_.groups;
    const std::size_t v = options_.vars;
    const std::size_t positions = diversity_detail::checked_positions(logits.shape(), options_);
    const std::size_t bad =
        cuda_detail::bce::first_non_finite(thrust::cuda::par.on(cuda_detail::stream()), logits.data(), logits.size());
    if (bad != logits.size()) {
      throw data_error(at_field("diversity_loss.logits"), "non-finite value at flat index " + std::to_string(bad),
                       "finite inputs");
    }
    probs_.ensure_shape(logits.shape());
    const std::size_t rows = positions * g;
    cuda_detail::diversity_softmax<<<cuda_detail::grid_for(rows), cuda_detail::block_size, 0,
                                     cuda_detail::stream()>>>(rows, v, logits.data(), probs_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    device_mean_.resize(g * v);
    cuda_detail::diversity_mean<<<cuda_detail::grid_for(g * v), cuda_detail::block_size, 0,
                                  cuda_detail::stream()>>>(positions, g * v, probs_.data(), device_mean_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    mean_.resize(g * v);
    device_mean_.copy_to_host(std::span<T>(mean_));
    positions_ = positions;
    return diversity_detail::loss_from_mean(mean_, g, v, perplexity_, prob_perplexity_);
  }

  /// grad: [positions, G·V] (device) += upstream·dL/dlogits (see the host loss).
  void backward(T upstream, input_type& grad) const {
    const std::size_t g = options_.groups;
    const std::size_t v = options_.vars;
    require_shape(grad.shape(), probs_.shape(), "diversity_loss.grad");
    a_.resize(g * v);
    diversity_detail::mean_gradient(mean_, perplexity_, g, v, a_);
    device_a_.resize(g * v);
    device_a_.copy_from_host(std::span<const T>(a_));
    const T scale = upstream / static_cast<T>(positions_);
    const std::size_t rows = positions_ * g;
    cuda_detail::diversity_gradient<<<cuda_detail::grid_for(rows), cuda_detail::block_size, 0,
                                      cuda_detail::stream()>>>(rows, g, v, probs_.data(), device_a_.data(), scale,
                                                               grad.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  /// Σ_g perplexity of the last forward.
  [[nodiscard]] T prob_perplexity() const { return prob_perplexity_; }
  /// p̄ of the last forward: [G·V], on the host.
  [[nodiscard]] const std::vector<T>& mean_probabilities() const { return mean_; }
  [[nodiscard]] const diversity_loss_options& options() const { return options_; }

 private:
  diversity_loss_options options_;
  device_tensor<T, 2> probs_;
  device_buffer<T> device_mean_;
  mutable device_buffer<T> device_a_;  // dL/dp̄ uploaded by backward
  std::vector<T> mean_, perplexity_;
  mutable std::vector<T> a_;
  T prob_perplexity_ = 0;
  std::size_t positions_ = 0;
};

}  // namespace ecgssl

#pragma once
/// \file bce_with_logits.cuh
/// bce_with_logits<T, cuda>: the multi-label BCE-with-logits of spec §6.2 on device logits,
/// with the host loss's normalisations and semantics (loss/bce_with_logits.hpp is its twin and
/// oracle). Targets are given on the host (validated there, with the same messages) and
/// uploaded once per set_targets; forward reduces on the device (thrust, in double) and returns
/// the loss to the host; backward accumulates upstream·(σ(x) - y)/n into a device gradient.

#include <thrust/system/cuda/execution_policy.h>

#include <cstddef>
#include <span>
#include <string>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../loss/bce_with_logits.hpp"
#include "detail/bce_math.cuh"
#include "detail/launch.cuh"
#include "device_tensor.cuh"

namespace ecgssl {

template <class T>
class bce_with_logits<T, cuda> {
 public:
  using scalar_type = T;
  using backend_type = cuda;
  using input_type = device_tensor<T, 2>;  // logits: [batch, classes] on the device

  explicit bce_with_logits(bce_normalization normalization = bce_normalization::positive_labels)
      : normalization_(normalization) {}

  /// targets: [batch, classes] on the host, values in [0, 1]; uploaded to the device.
  void set_targets(const tensor<T, 2>& targets) {
    positives_in_targets_ = bce_detail::validated_positive_count(targets);
    targets_.copy_from_host(targets);
  }

  /// Returns the normalised loss (blocking: the sum comes back to the host); caches σ(x).
  T forward(const input_type& logits) {
    require_shape(logits.shape(), targets_.shape(), "bce_with_logits.logits (shape of the targets)");
    const std::size_t n = logits.size();
    if (n == 0) throw shape_error(at_field("bce_with_logits.logits"), "an empty batch", "at least one logit");
    const auto policy = thrust::cuda::par.on(cuda_detail::stream());
    cuda_detail::bce::require_finite(policy, logits.data(), n, "bce_with_logits.logits");
    sigmoid_.ensure_shape(logits.shape());
    cuda_detail::bce::sigmoid(policy, logits.data(), sigmoid_.data(), n);
    const double total = cuda_detail::bce::summed_loss(policy, logits.data(), targets_.data(), n);
    positive_labels_ = positives_in_targets_;
    denominator_ = bce_detail::denominator<T>(normalization_, positive_labels_, n);
    return static_cast<T>(total / denominator_);
  }

  /// grad: [batch, classes] (device) += upstream·(σ(x) - y)/n.
  void backward(T upstream, input_type& grad) const {
    require_shape(grad.shape(), sigmoid_.shape(), "bce_with_logits.grad");
    cuda_detail::bce::accumulate_gradient(thrust::cuda::par.on(cuda_detail::stream()), sigmoid_.data(),
                                          targets_.data(), upstream / denominator_, grad.data(),
                                          grad.size());
  }

  [[nodiscard]] std::size_t positive_labels() const { return positive_labels_; }
  [[nodiscard]] T denominator() const { return denominator_; }
  [[nodiscard]] bce_normalization normalization() const { return normalization_; }

 private:
  bce_normalization normalization_;
  device_tensor<T, 2> targets_;
  device_tensor<T, 2> sigmoid_;
  std::size_t positives_in_targets_ = 0;
  std::size_t positive_labels_ = 0;
  T denominator_ = T(1);
};

}  // namespace ecgssl

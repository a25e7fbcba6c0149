#pragma once
/// \file bce_with_logits.hpp
/// Multi-label binary cross-entropy on logits (spec §6.2), with the reference trainer's
/// normalisation (summed loss / number of positive labels in the batch) or the plain mean.

#include <cmath>
#include <cstddef>
#include <span>
#include <string>

#include "../core/backend.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../core/threading.hpp"
#include "detail/common.hpp"

namespace ecgssl {

/// How the summed BCE is normalised.
enum class bce_normalization {
  positive_labels,  ///< sum / max(1, #positive labels in the batch): fairseq-signals' sample_size (§6.2)
  mean,             ///< sum / (batch * classes): torch's BCEWithLogitsLoss(reduction='mean')
  sum,              ///< no normalisation (the caller divides, e.g. across micro-batches)
};

/// BCE-with-logits, L = (1/n) Σ_{b,c} [max(x,0) - x·y + log(1 + exp(-|x|))] (spec §6.2).
/// Usage: `set_targets(labels)` then `forward(logits)`; `backward(upstream, grad)` accumulates
/// upstream·dL/dlogits = upstream·(σ(x) - y)/n into grad.
/// When a batch has no positive label the reference divides by 1 (fairseq's `sample_size or 1`).
namespace bce_detail {

/// Checks that every target is in [0, 1] (data_error naming the first that is not) and returns
/// how many equal 1 (fairseq's sample_size). Shared by every backend's set_targets.
template <class T>
std::size_t validated_positive_count(const tensor<T, 2>& targets) {
  std::size_t positives = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const T y = targets.data()[i];
    if (!(y >= T(0) && y <= T(1))) {
      throw data_error(at_field("bce_with_logits.targets"),
                       "target at flat index " + std::to_string(i) + " is " + std::to_string(y),
                       "values in [0, 1]");
    }
    positives += y == T(1) ? 1u : 0u;
  }
  return positives;
}

/// The divisor of the summed loss under `normalization` (n logits, `positives` labels equal to 1).
template <class T>
T denominator(bce_normalization normalization, std::size_t positives, std::size_t n) {
  switch (normalization) {
    case bce_normalization::positive_labels:
      return static_cast<T>(positives == 0 ? 1 : positives);
    case bce_normalization::mean:
      return static_cast<T>(n);
    case bce_normalization::sum:
      break;
  }
  return T(1);
}

}  // namespace bce_detail

template <class T, class Backend = host>
class bce_with_logits {
  static_assert(loss_detail::host_only_v<Backend>, "ecgssl: this operation has no specialisation for the requested backend");

 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = tensor<T, 2>;  // logits: [batch, classes]

  explicit bce_with_logits(bce_normalization normalization = bce_normalization::positive_labels)
      : normalization_(normalization) {}

  /// targets: [batch, classes], every entry 0 or 1 (soft targets in [0, 1] are accepted; only
  /// entries equal to 1 count as positive labels for the reference normalisation).
  void set_targets(const tensor<T, 2>& targets) {
    positives_in_targets_ = bce_detail::validated_positive_count(targets);
    targets_ = targets;
  }

  /// Returns the normalised loss and caches σ(x) for backward.
  T forward(const input_type& logits) {
    require_shape(logits.shape(), targets_.shape(), "bce_with_logits.logits (shape of the targets)");
    if (logits.size() == 0) throw shape_error(at_field("bce_with_logits.logits"), "an empty batch", "at least one logit");
    loss_detail::require_finite(as_span(logits), "bce_with_logits.logits");
    sigmoid_.resize(logits.shape());
    const std::size_t n = logits.size();
    const T* x = logits.data();
    const T* y = targets_.data();
    T* s = sigmoid_.data();
    positive_labels_ = positives_in_targets_;
    const auto total = deterministic_sum<accumulator_t<T>>(n, [&](std::size_t i) {
      const T xi = x[i];
      s[i] = xi >= T(0) ? T(1) / (T(1) + std::exp(-xi)) : std::exp(xi) / (T(1) + std::exp(xi));
      return std::max(xi, T(0)) - xi * y[i] + std::log1p(std::exp(-std::abs(xi)));
    });
    denominator_ = bce_detail::denominator<T>(normalization_, positive_labels_, n);
    return static_cast<T>(total / denominator_);
  }

  /// grad: [batch, classes] += upstream·(σ(x) - y)/n.
  void backward(T upstream, input_type& grad) const {
    require_shape(grad.shape(), sigmoid_.shape(), "bce_with_logits.grad");
    const T scale = upstream / denominator_;
    const T* s = sigmoid_.data();
    const T* y = targets_.data();
    T* g = grad.data();
    for (std::size_t i = 0; i < grad.size(); ++i) g[i] += scale * (s[i] - y[i]);
  }

  /// Number of entries equal to 1 in the targets of the last forward (fairseq's sample_size).
  [[nodiscard]] std::size_t positive_labels() const { return positive_labels_; }
  /// The divisor the last forward used.
  [[nodiscard]] T denominator() const { return denominator_; }
  [[nodiscard]] bce_normalization normalization() const { return normalization_; }

 private:
  bce_normalization normalization_;
  tensor<T, 2> targets_;
  tensor<T, 2> sigmoid_;
  std::size_t positives_in_targets_ = 0;
  std::size_t positive_labels_ = 0;
  T denominator_ = T(1);
};

}  // namespace ecgssl

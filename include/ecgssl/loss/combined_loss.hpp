#pragma once
/// \file combined_loss.hpp
/// The W2V+CMSC pre-training objective with its auxiliary terms, normalised as the reference
/// criterion and trainer do (spec §4.4):
/// loss_sum = L_w2v + N_m·(w_d·L_d + w_f·L_f + w_c·L_cmsc), sample_size = N_m = S·M.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "cmsc_loss.hpp"
#include "diversity_loss.hpp"
#include "feature_penalty.hpp"
#include "wav2vec2_contrastive.hpp"

namespace ecgssl {

/// Inputs of the combined objective (and, shaped alike, their gradients). A term whose weight
/// is 0 is skipped and its tensor may stay empty. On cuda every tensor is a device_tensor.
template <class T, class Backend = host>
struct combined_input {
  /// c, q at masked frames: [S, M, final_dim] each
  typename wav2vec2_contrastive<T, Backend>::input_type contrastive;
  backend_tensor_t<T, 2, Backend> quantizer_logits;  ///< [S·M, G·V] at the same frames
  backend_tensor_t<T, 3, Backend> features;          ///< raw conv output z: [S, channels, frames]
  backend_tensor_t<T, 3, Backend> encoder_output;    ///< transformer output x: [S, frames, dim]
};

struct combined_loss_options {
  wav2vec2_contrastive_options contrastive{};
  diversity_loss_options diversity{};
  cmsc_options cmsc{};
  double diversity_weight = 0.1;        ///< loss_weights[0] (spec §4.2)
  double feature_penalty_weight = 10.0; ///< loss_weights[1]
  double cmsc_weight = 1.0;             ///< 0 = W2V alone (spec §4.5)
  /// true: forward returns loss_sum / N_m (one micro-batch per update); false: loss_sum, and the
  /// caller divides the accumulated gradient by Σ sample_size (optimizer::step(1/Σ N_m)).
  bool normalize_by_sample_size = true;
};

/// Composes the four losses of `Backend` (on cuda: include <ecgssl/cuda/wav2vec2_contrastive.cuh>,
/// cmsc_loss.cuh, diversity_loss.cuh and feature_penalty.cuh before instantiating it).
template <class T, class Backend = host>
class combined_loss {
 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = combined_input<T, Backend>;

  explicit combined_loss(combined_loss_options options = {})
      : options_(options), contrastive_(options.contrastive), diversity_(options.diversity), cmsc_(options.cmsc) {
    if (options.diversity_weight < 0 || options.feature_penalty_weight < 0 || options.cmsc_weight < 0) {
      throw config_error(at_field("combined_loss.weights"), "a negative weight", "weights >= 0");
    }
  }

  /// Record identity and pair position of each of the S segments (needed when cmsc_weight > 0).
  void set_targets(std::span<const std::int64_t> record_ids, std::span<const std::int64_t> segments) {
    cmsc_.set_targets(record_ids, segments);
  }

  T forward(const input_type& in) {
    w2v_ = contrastive_.forward(in.contrastive);
    sample_size_ = contrastive_.sample_size();
    const auto n = static_cast<T>(sample_size_);
    diversity_value_ = options_.diversity_weight > 0 ? diversity_.forward(in.quantizer_logits) : T(0);
    penalty_value_ = options_.feature_penalty_weight > 0 ? penalty_.forward(in.features) : T(0);
    cmsc_value_ = options_.cmsc_weight > 0 ? cmsc_.forward(in.encoder_output) : T(0);
    const T sum = w2v_ + n * (static_cast<T>(options_.diversity_weight) * diversity_value_ +
                              static_cast<T>(options_.feature_penalty_weight) * penalty_value_ +
                              static_cast<T>(options_.cmsc_weight) * cmsc_value_);
    return options_.normalize_by_sample_size ? sum / n : sum;
  }

  void backward(T upstream, input_type& grad) {
    const auto n = static_cast<T>(sample_size_);
    const T s = options_.normalize_by_sample_size ? upstream / n : upstream;
    contrastive_.backward(s, grad.contrastive);
    if (options_.diversity_weight > 0) diversity_.backward(s * n * static_cast<T>(options_.diversity_weight), grad.quantizer_logits);
    if (options_.feature_penalty_weight > 0) penalty_.backward(s * n * static_cast<T>(options_.feature_penalty_weight), grad.features);
    if (options_.cmsc_weight > 0) cmsc_.backward(s * n * static_cast<T>(options_.cmsc_weight), grad.encoder_output);
  }

  /// N_m = S·M of the last forward.
  [[nodiscard]] std::size_t sample_size() const { return sample_size_; }
  /// The unweighted terms of the last forward, for logging: summed L_w2v, L_d, L_f, L_cmsc.
  [[nodiscard]] T contrastive_value() const { return w2v_; }
  [[nodiscard]] T diversity_value() const { return diversity_value_; }
  [[nodiscard]] T feature_penalty_value() const { return penalty_value_; }
  [[nodiscard]] T cmsc_value() const { return cmsc_value_; }
  [[nodiscard]] T prob_perplexity() const { return diversity_.prob_perplexity(); }
  /// The contrastive term, e.g. to set_step() or inject negatives.
  [[nodiscard]] wav2vec2_contrastive<T, Backend>& contrastive() { return contrastive_; }
  [[nodiscard]] const combined_loss_options& options() const { return options_; }

 private:
  combined_loss_options options_;
  wav2vec2_contrastive<T, Backend> contrastive_;
  diversity_loss<T, Backend> diversity_;
  feature_penalty<T, Backend> penalty_;
  cmsc_loss<T, Backend> cmsc_;
  std::size_t sample_size_ = 0;
  T w2v_ = 0, diversity_value_ = 0, penalty_value_ = 0, cmsc_value_ = 0;
};

}  // namespace ecgssl

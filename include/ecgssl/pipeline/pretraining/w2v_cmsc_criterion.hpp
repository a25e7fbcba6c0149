#pragma once
/// \file w2v_cmsc_criterion.hpp
/// The W2V (+ CMSC) criterion of spec §4.1-§4.4 on the masked forward of an ecg_transformer:
///   loss_sum = L_w2v + N_m·(0.1·L_d + 10·L_f + w_c·L_cmsc),  sample_size = N_m = S·M,
/// with w_c = 1 (W2V+CMSC) or 0 (W2V alone, spec §4.5). L_w2v, L_f and L_cmsc come from
/// loss::combined_loss (un-normalised); the diversity term L_d = (G·V - prob_perplexity)/(G·V)
/// is applied through the encoder's prob_perplexity gradient, because the quantizer logits live
/// inside the encoder.

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "../../core/backend_tensor.hpp"
#include "../../core/error.hpp"
#include "../../data/batch_loader.hpp"
#include "../../loss/combined_loss.hpp"
#include "../../model/configs.hpp"
#include "../../model/ecg_transformer.hpp"
#include "../../nn/detail/common.hpp"
#include "pretrain_objective.hpp"

namespace ecgssl::pipeline {

/// W2V (+ CMSC when WithCmsc) on items of two consecutive segments (WithCmsc) or single segments.
/// `Backend` is where the encoder and the losses compute (cuda: instantiate it from a .cu
/// translation unit that includes the cuda losses and kernels); the batch arrives on the host
/// and is uploaded once per micro-batch.
template <class T, bool WithCmsc, class Backend = host>
class w2v_cmsc_criterion {
 public:
  using backend_type = Backend;

  explicit w2v_cmsc_criterion(double diversity_weight = 0.1, double feature_penalty_weight = 10.0,
                              std::uint64_t seed = 0)
      : diversity_weight_(diversity_weight), feature_penalty_weight_(feature_penalty_weight), seed_(seed),
        loss_(make_options()) {}

  static model::ecg_transformer_options adapt(model::ecg_transformer_options o) {
    o.apply_mask = true;
    o.pretraining_heads = true;
    return o;
  }
  /// Keys the negative sampling (spec §4.1) by the run's seed.
  void set_seed(std::uint64_t seed) {
    seed_ = seed;
    loss_ = loss_type(make_options());
  }
  /// How a negative equal to its positive is recognised (spec §4.1, §11; default by_value, as the
  /// reference). by_value depends on rounding, so two backends (or thread counts) can disagree
  /// on a pair of targets equal in exact arithmetic; by_code compares the quantizer's codes (the
  /// targets are equal exactly when the codes are), the same on every backend; `keep` masks none.
  void set_identical_negatives(identical_negatives mode) {
    identical_ = mode;
    loss_ = loss_type(make_options());
  }
  static std::string name() { return WithCmsc ? "w2v_cmsc" : "w2v"; }

  template <class Encoder>
  micro_batch_result run(Encoder& encoder, const data::batch& b, std::uint64_t micro_step) {
    static_assert(std::is_same_v<typename Encoder::backend_type, Backend>,
                  "w2v_cmsc_criterion: the encoder computes on another backend than the criterion");
    const auto& out = encoder.forward(encoder_input(b.signals));
    const std::size_t segments = out.encoded.shape()[0];
    const std::size_t masked = out.masked_per_sample;
    if (masked < 2) {
      throw data_error(at_field("span mask"), std::to_string(masked) + " masked frames per segment",
                       "at least 2 (input too short for wav2vec 2.0 masking)");
    }
    const std::size_t dim = out.predictions.shape()[1];
    const std::array<std::size_t, 3> head_shape{segments, masked, dim};
    nn::detail::copy_reshaped(in_.contrastive.predictions, head_shape, out.predictions);
    nn::detail::copy_reshaped(in_.contrastive.targets, head_shape, out.targets);
    nn::detail::copy_into(in_.features, out.features);
    if constexpr (WithCmsc) {
      nn::detail::copy_into(in_.encoder_output, out.encoded);
      ids_.resize(segments);
      parts_.resize(segments);
      for (std::size_t s = 0; s < segments; ++s) {
        ids_[s] = b.meta[s].identity;
        parts_[s] = static_cast<std::int64_t>(s % 2);  // loader layout: item parts side by side
      }
      loss_.set_targets(ids_, parts_);
    }
    if (identical_ == identical_negatives::by_code) {
      // head rows are b-major with ascending t, so row s*M + m is segment s's m-th masked frame
      target_codes_.resize({segments, masked});
      std::copy(out.target_codes.begin(), out.target_codes.end(), target_codes_.begin());
      loss_.contrastive().set_target_codes(target_codes_);
    }
    loss_.contrastive().set_step(static_cast<std::int64_t>(micro_step));
    const T base = loss_.forward(in_);
    const double n = static_cast<double>(loss_.sample_size());
    const double groups_codes = static_cast<double>(encoder.options().latent_groups * encoder.options().latent_vars);
    const double diversity = (groups_codes - out.prob_perplexity) / groups_codes;

    nn::detail::zero_like(grad_.contrastive.predictions, head_shape);
    nn::detail::zero_like(grad_.contrastive.targets, head_shape);
    nn::detail::zero_like(grad_.features, in_.features.shape());
    if constexpr (WithCmsc) nn::detail::zero_like(grad_.encoder_output, in_.encoder_output.shape());
    loss_.backward(T(1), grad_);
    static_assert(std::is_same_v<typename Encoder::gradients, model::encoder_gradients<T, Backend>>,
                  "w2v_cmsc_criterion: the encoder's gradients are not model::encoder_gradients<T, Backend>");
    auto& g = encoder_gradients_;  // reused: buffers keep their capacity across micro-batches
    const std::array<std::size_t, 2> row_shape{segments * masked, dim};
    nn::detail::copy_reshaped(g.predictions, row_shape, grad_.contrastive.predictions);
    nn::detail::copy_reshaped(g.targets, row_shape, grad_.contrastive.targets);
    nn::detail::copy_into(g.features, grad_.features);
    if constexpr (WithCmsc) nn::detail::copy_into(g.encoded, grad_.encoder_output);
    // d(N·w_d·(GV - ppl)/GV)/d ppl
    g.prob_perplexity = static_cast<T>(-n * diversity_weight_ / groups_codes);
    encoder.backward(g);

    micro_batch_result r;
    r.loss_sum = static_cast<double>(base) + n * diversity_weight_ * diversity;
    r.sample_size = n;
    r.terms = {{"w2v", static_cast<double>(loss_.contrastive_value())},
               {"diversity", n * diversity},
               {"feature_penalty", n * static_cast<double>(loss_.feature_penalty_value())}};
    if constexpr (WithCmsc) r.terms.emplace_back("cmsc", n * static_cast<double>(loss_.cmsc_value()));
    return r;
  }

 private:
  using loss_type = combined_loss<T, Backend>;
  using encoder_input_type = backend_tensor_t<T, 3, Backend>;

  combined_loss_options make_options() const {
    combined_loss_options o;
    o.diversity_weight = 0.0;  // applied through prob_perplexity (see the file comment)
    o.feature_penalty_weight = feature_penalty_weight_;
    o.cmsc_weight = WithCmsc ? 1.0 : 0.0;
    o.normalize_by_sample_size = false;  // the trainer divides by Σ N_m (spec §4.4)
    o.contrastive.seed = seed_;
    o.contrastive.identical = identical_;
    return o;
  }
  // The batch (float, host) as the encoder's input: itself, converted to T, and/or uploaded.
  const encoder_input_type& encoder_input(const tensor<float, 3>& x) {
    const tensor<T, 3>* host_input = nullptr;
    if constexpr (std::is_same_v<T, float>) {
      host_input = &x;
    } else {
      converted_ = x;
      host_input = &converted_;
    }
    if constexpr (std::is_same_v<Backend, host>) {
      return *host_input;
    } else {
      nn::detail::assign_from_host(device_input_, *host_input);
      return device_input_;
    }
  }

  double diversity_weight_;
  double feature_penalty_weight_;
  std::uint64_t seed_;
  identical_negatives identical_ = identical_negatives::by_value;
  loss_type loss_;
  combined_input<T, Backend> in_, grad_;
  model::encoder_gradients<T, Backend> encoder_gradients_;
  std::vector<std::int64_t> ids_, parts_;
  tensor<std::int64_t, 2> target_codes_;
  tensor<T, 3> converted_;
  encoder_input_type device_input_;  // cuda: the uploaded batch (unused on the host)
};

}  // namespace ecgssl::pipeline

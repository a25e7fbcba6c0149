#pragma once
/// \file pretrain_objective.hpp
/// A pre-training objective composed at compile time (spec §1, §4): an encoder, the signal
/// transform and lead-masking policy applied to every segment by the data loader (so the two
/// segments of a CMSC pair get independent RLM draws, spec §2.5/§3.2), and a criterion that turns
/// one micro-batch into a summed loss and its gradients. Method aliases: pretrain_method.hpp.

#include <concepts>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../../core/concepts.hpp"
#include "../../data/batch_loader.hpp"
#include "../../model/configs.hpp"

namespace ecgssl::pipeline {

/// What one micro-batch contributed to an update (spec §4.4): the summed loss and the sample
/// size it is normalised by (N_m = masked frames where W2V is on, else 1), and the terms
/// (already multiplied by the sample size, so that Σ term / Σ sample_size is their mean).
struct micro_batch_result {
  double loss_sum = 0.0;
  double sample_size = 0.0;
  std::vector<std::pair<std::string, double>> terms;
};

/// A criterion runs forward, loss and backward of one micro-batch on an encoder, accumulating
/// the parameter gradients (scaled like loss_sum, i.e. not yet divided by the sample size).
/// `parts` is the number of segments per data item it expects (2: pairs or views).
template <class C, class Encoder>
concept pretraining_criterion = requires(C& c, Encoder& e, const data::batch& b, std::uint64_t step,
                                         model::ecg_transformer_options o) {
  { c.run(e, b, step) } -> std::same_as<micro_batch_result>;
  { C::adapt(o) } -> std::same_as<model::ecg_transformer_options>;
  { C::name() } -> std::convertible_to<std::string>;
};

/// Encoder + transform + masking + criterion. The encoder is built from options adapted by the
/// criterion (e.g. no time masking and no quantizer for CMSC alone).
template <class Encoder, signal_transform Transform, masking_policy Masking, class Criterion>
  requires pretraining_criterion<Criterion, Encoder>
class pretrain_objective {
 public:
  using encoder_type = Encoder;
  using transform_type = Transform;
  using masking_type = Masking;
  using criterion_type = Criterion;
  using scalar_type = typename Encoder::scalar_type;

  explicit pretrain_objective(model::ecg_transformer_options options, Transform transform = Transform(),
                              Masking masking = Masking(), Criterion criterion = Criterion())
      : encoder_(Criterion::adapt(options)),
        transform_(std::move(transform)),
        masking_(std::move(masking)),
        criterion_(std::move(criterion)) {}

  [[nodiscard]] Encoder& encoder() { return encoder_; }
  [[nodiscard]] const Transform& transform() const { return transform_; }
  [[nodiscard]] const Masking& masking() const { return masking_; }
  [[nodiscard]] Criterion& criterion() { return criterion_; }

  /// One micro-batch: seeds every random draw of the forward by (seed, micro_step), sets the
  /// quantizer temperature from the update count, then runs the criterion.
  micro_batch_result accumulate(const data::batch& b, std::uint64_t seed, std::uint64_t micro_step,
                                std::int64_t updates) {
    encoder_.set_training(true);
    encoder_.set_step(seed, micro_step);
    encoder_.set_num_updates(updates);
    return criterion_.run(encoder_, b, micro_step);
  }

 private:
  Encoder encoder_;
  Transform transform_;
  Masking masking_;
  Criterion criterion_;
};

}  // namespace ecgssl::pipeline

#pragma once
/// \file identity_nt_xent_criterion.hpp
/// 3KG's criterion (spec §4.5; fairseq-signals `criterions/3kg_criterion.py`): the transformer
/// output of an unmasked forward is mean-pooled (non-zero count, as §4.3), normalised by its
/// detached norm, and every ordered pair (i, j) of rows with the same identity is a positive
/// whose cross-entropy runs against all rows of other identities (NT-Xent, τ 0.1; the reference
/// uses the patient id, here the segment's identity = record, so the two views of a segment and
/// any other segment of the same record in the micro-batch are positives). The loss is the mean
/// over positive pairs (the reference sums and divides by their count); sample_size = 1.

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "../../data/batch_loader.hpp"
#include "../../loss/nt_xent.hpp"
#include "../../model/configs.hpp"
#include "detail/global_criterion_steps.hpp"
#include "pretrain_objective.hpp"

namespace ecgssl::pipeline {

/// NT-Xent with positives = same identity over the pooled outputs of all segments of a batch.
/// `Backend` is where the encoder, the pooling and the loss compute (cuda: instantiate it from a
/// .cu translation unit that includes <ecgssl/cuda/nt_xent.cuh> and
/// <ecgssl/cuda/nonzero_mean_pool.cuh>); the identities stay on the host.
template <class T, class Backend = host>
class identity_nt_xent_criterion {
 public:
  using backend_type = Backend;

  explicit identity_nt_xent_criterion(double temperature = 0.1)
      : loss_(nt_xent_options{.temperature = temperature, .norm_eps = 1e-8, .detach_norm = true}) {}

  static model::ecg_transformer_options adapt(model::ecg_transformer_options o) {
    o.apply_mask = false;
    o.pretraining_heads = false;
    return o;
  }
  static std::string name() { return "nt_xent"; }

  /// Identity of segment s of a batch: its identification label, or (when it has none) a
  /// value of its own per source item, so at least its views are positives of each other.
  static std::int64_t identity_of(const data::batch& b, std::size_t s) {
    const std::int64_t id = b.meta[s].identity;
    return id >= 0 ? id : -1 - static_cast<std::int64_t>(b.items[s]);
  }

  template <class Encoder>
  micro_batch_result run(Encoder& encoder, const data::batch& b, std::uint64_t) {
    const auto& out = io_.forward(encoder, b);
    const std::size_t segments = out.encoded.shape()[0];
    ids_.resize(segments);
    for (std::size_t s = 0; s < segments; ++s) ids_[s] = identity_of(b, s);
    loss_.set_identities(ids_);
    const T value = io_.pooled_loss(encoder, out.encoded, loss_);
    return detail::mean_loss_result(name(), static_cast<double>(value));
  }

  /// Ordered positive pairs of the last micro-batch.
  [[nodiscard]] std::size_t positive_pairs() const { return loss_.positive_pairs(); }

 private:
  nt_xent<T, Backend> loss_;
  detail::global_criterion_io<T, Backend> io_;
  std::vector<std::int64_t> ids_;
};

}  // namespace ecgssl::pipeline

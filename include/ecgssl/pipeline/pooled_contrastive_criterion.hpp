#pragma once
/// \file pooled_contrastive_criterion.hpp
/// Global contrastive criteria on the mean-pooled transformer output of an unmasked forward
/// (spec §4.5): CMSC alone (CLOCS; cmsc_form::cross_segment over consecutive-segment pairs,
/// τ 0.1) and SimCLR (cmsc_form::nt_xent_2n over two augmented views of each segment, τ 0.1).
/// No time masking, no quantizer; sample_size = 1 (the loss is already a mean).

#include <cstdint>
#include <string>
#include <vector>

#include "../data/batch_loader.hpp"
#include "../loss/cmsc_loss.hpp"
#include "../model/configs.hpp"
#include "detail/global_criterion_steps.hpp"
#include "pretrain_objective.hpp"

namespace ecgssl::pipeline {

/// CMSC (Form = cross_segment) or SimCLR (Form = nt_xent_2n) on items of two segments.
template <class T, cmsc_form Form>
class pooled_contrastive_criterion {
 public:
  explicit pooled_contrastive_criterion(double temperature = 0.1)
      : loss_(cmsc_options{.temperature = temperature, .form = Form}) {}

  static model::ecg_transformer_options adapt(model::ecg_transformer_options o) {
    o.apply_mask = false;
    o.pretraining_heads = false;
    return o;
  }
  static std::string name() { return Form == cmsc_form::cross_segment ? "cmsc" : "simclr"; }

  template <class Encoder>
  micro_batch_result run(Encoder& encoder, const data::batch& b, std::uint64_t) {
    const auto& out = detail::forward_batch<T>(encoder, b, converted_);
    const std::size_t segments = out.encoded.shape()[0];
    ids_.resize(segments);
    parts_.resize(segments);
    for (std::size_t s = 0; s < segments; ++s) {
      // SimCLR: the two views of an item are positives; CMSC: segments of the same record.
      ids_[s] = Form == cmsc_form::cross_segment ? b.meta[s].identity : static_cast<std::int64_t>(b.items[s]);
      parts_[s] = static_cast<std::int64_t>(s % 2);
    }
    loss_.set_targets(ids_, parts_);
    const T value = loss_.forward(out.encoded);
    detail::backward_from_encoded<T>(encoder, out.encoded, [&](tensor<T, 3>& dencoded) { loss_.backward(T(1), dencoded); });
    return detail::mean_loss_result(name(), static_cast<double>(value));
  }

 private:
  cmsc_loss<T> loss_;
  std::vector<std::int64_t> ids_, parts_;
  tensor<T, 3> converted_;
};

}  // namespace ecgssl::pipeline

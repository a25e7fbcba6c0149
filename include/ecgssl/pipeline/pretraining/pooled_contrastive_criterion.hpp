#pragma once
/// \file pooled_contrastive_criterion.hpp
/// Global contrastive criteria on the mean-pooled transformer output of an unmasked forward
/// (spec §4.5): CMSC alone (CLOCS; cmsc_form::cross_segment over consecutive-segment pairs,
/// τ 0.1) and SimCLR (cmsc_form::nt_xent_2n over two augmented views of each segment, τ 0.1).
/// No time masking, no quantizer; sample_size = 1 (the loss is already a mean).

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "../../data/batch_loader.hpp"
#include "../../loss/cmsc_loss.hpp"
#include "../../loss/nt_xent.hpp"
#include "../../model/configs.hpp"
#include "detail/global_criterion_steps.hpp"
#include "pretrain_objective.hpp"

namespace ecgssl::pipeline {

/// CMSC (Form = cross_segment) or SimCLR (Form = nt_xent_2n) on items of two segments.
/// `Backend` is where the encoder and the loss compute (cuda: instantiate it from a .cu
/// translation unit that includes <ecgssl/cuda/cmsc_loss.cuh>, and for SimCLR
/// <ecgssl/cuda/nt_xent.cuh> and <ecgssl/cuda/nonzero_mean_pool.cuh>).
template <class T, cmsc_form Form, class Backend = host>
class pooled_contrastive_criterion {
  // cmsc_loss<T, cuda> has the cross-segment form only. SimCLR on cuda therefore pools and runs
  // NT-Xent itself, with rows 2i, 2i+1 positive: the loader puts the two views of item i side
  // by side, exactly the pairs (i-th segment-0 row, i-th segment-1 row) of cmsc_loss's
  // nt_xent_2n form, whose detached-norm NT-Xent over [A; B] is the same loss up to row order.
  static constexpr bool pools_itself = Form == cmsc_form::nt_xent_2n && !std::is_same_v<Backend, host>;

 public:
  using backend_type = Backend;

  explicit pooled_contrastive_criterion(double temperature = 0.1) : loss_(make_loss(temperature)) {}

  static model::ecg_transformer_options adapt(model::ecg_transformer_options o) {
    o.apply_mask = false;
    o.pretraining_heads = false;
    return o;
  }
  static std::string name() { return Form == cmsc_form::cross_segment ? "cmsc" : "simclr"; }

  template <class Encoder>
  micro_batch_result run(Encoder& encoder, const data::batch& b, std::uint64_t) {
    const auto& out = io_.forward(encoder, b);
    if constexpr (pools_itself) {
      return detail::mean_loss_result(name(), static_cast<double>(io_.pooled_loss(encoder, out.encoded, loss_)));
    } else {
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
      io_.backward(encoder, out.encoded, [&](auto& dencoded) { loss_.backward(T(1), dencoded); });
      return detail::mean_loss_result(name(), static_cast<double>(value));
    }
  }

 private:
  using loss_type = std::conditional_t<pools_itself, nt_xent<T, Backend>, cmsc_loss<T, Backend>>;

  static loss_type make_loss(double temperature) {
    if constexpr (pools_itself) {
      const cmsc_options defaults;
      return loss_type(nt_xent_options{.temperature = temperature, .norm_eps = defaults.norm_eps,
                                       .detach_norm = true, .pairing = nt_xent_pairing::adjacent});
    } else {
      return loss_type(cmsc_options{.temperature = temperature, .form = Form});
    }
  }

  loss_type loss_;
  detail::global_criterion_io<T, Backend> io_;
  std::vector<std::int64_t> ids_, parts_;
};

}  // namespace ecgssl::pipeline

#pragma once
/// \file global_criterion_steps.hpp
/// The steps every criterion on the pooled transformer output (CMSC, SimCLR, 3KG; spec §4.5)
/// takes around its loss: an unmasked forward of the batch's float signals in the encoder's
/// scalar type, a backward from a gradient of the encoded frames only, and a result of one
/// term whose loss is already a mean (sample_size 1).

#include <algorithm>
#include <string>
#include <type_traits>

#include "../../core/tensor.hpp"
#include "../../data/batch_loader.hpp"
#include "../pretrain_objective.hpp"

namespace ecgssl::pipeline::detail {

/// Runs the encoder on the batch's signals (converted into `converted` when T is not float) and
/// returns its outputs.
template <class T, class Encoder>
const auto& forward_batch(Encoder& encoder, const data::batch& b, tensor<T, 3>& converted) {
  if constexpr (std::is_same_v<T, float>) {
    encoder.forward(b.signals);
  } else {
    converted = b.signals;
    encoder.forward(converted);
  }
  return encoder.last_outputs();
}

/// Backpropagates a gradient of the encoded frames alone: `fill(dencoded)` accumulates it into
/// a zeroed [segments, frames, dim] tensor.
template <class T, class Encoder, class Fill>
void backward_from_encoded(Encoder& encoder, const tensor<T, 3>& encoded, Fill&& fill) {
  typename Encoder::gradients g;
  g.encoded = tensor<T, 3>::from_shape(encoded.shape());
  std::fill(g.encoded.begin(), g.encoded.end(), T(0));
  fill(g.encoded);
  encoder.backward(g);
}

/// One named term whose value is already the mean loss.
inline micro_batch_result mean_loss_result(const std::string& name, double value) {
  micro_batch_result r;
  r.loss_sum = value;
  r.sample_size = 1.0;
  r.terms = {{name, value}};
  return r;
}

}  // namespace ecgssl::pipeline::detail

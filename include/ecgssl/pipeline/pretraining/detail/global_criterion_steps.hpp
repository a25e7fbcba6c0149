#pragma once
/// \file global_criterion_steps.hpp
/// The steps every criterion on the pooled transformer output (CMSC, SimCLR, 3KG; spec §4.5)
/// takes around its loss: an unmasked forward of the batch's float signals in the encoder's
/// scalar type (uploaded once per micro-batch on cuda), a backward from a gradient of the
/// encoded frames only, and a result of one term whose loss is already a mean (sample_size 1).

#include <string>
#include <type_traits>
#include <utility>

#include "../../../core/backend_tensor.hpp"
#include "../../../core/tensor.hpp"
#include "../../../core/backend.hpp"
#include "../../../data/batch_loader.hpp"
#include "../../../loss/detail/nonzero_mean_pool.hpp"
#include "../../../nn/detail/common.hpp"
#include "../pretrain_objective.hpp"

namespace ecgssl::pipeline::detail {

/// The backend an encoder computes on: its backend_type, or host for one that names none.
template <class Encoder>
struct encoder_backend {
  using type = host;
};
template <class Encoder>
  requires requires { typename Encoder::backend_type; }
struct encoder_backend<Encoder> {
  using type = typename Encoder::backend_type;
};

/// The encoder's input and encoded-frame gradient of a global criterion on backend `Backend`,
/// kept across micro-batches so that a step of an unchanged shape allocates nothing (on cuda a
/// fresh buffer would be a cudaMalloc per micro-batch).
template <class T, class Backend>
class global_criterion_io {
 public:
  using encoded_type = backend_tensor_t<T, 3, Backend>;  // [segments, frames, dim]

  /// Runs the encoder on the batch's signals (converted to T when T is not float, uploaded
  /// when the encoder computes on the device) and returns its outputs.
  template <class Encoder>
  const auto& forward(Encoder& encoder, const data::batch& b) {
    static_assert(std::is_same_v<typename encoder_backend<Encoder>::type, Backend>,
                  "global criterion: the encoder computes on another backend than the criterion");
    const tensor<T, 3>* host_input = nullptr;
    if constexpr (std::is_same_v<T, float>) {
      host_input = &b.signals;
    } else {
      converted_ = b.signals;
      host_input = &converted_;
    }
    if constexpr (std::is_same_v<Backend, host>) {
      encoder.forward(*host_input);
    } else {
      nn::detail::assign_from_host(device_input_, *host_input);
      encoder.forward(device_input_);
    }
    return encoder.last_outputs();
  }

  /// Backpropagates a gradient of the encoded frames alone: `fill(dencoded)` accumulates it
  /// into a zeroed tensor of `encoded`'s shape (the reused buffer, lent to the encoder's
  /// gradients for the call).
  template <class Encoder, class Fill>
  void backward(Encoder& encoder, const encoded_type& encoded, Fill&& fill) {
    nn::detail::zero_like(dencoded_, encoded.shape());
    fill(dencoded_);
    typename Encoder::gradients g;  // empty tensors: no storage
    std::swap(g.encoded, dencoded_);
    encoder.backward(g);
    std::swap(g.encoded, dencoded_);
  }

  /// The loss of the mean-pooled encoded frames (non-zero count, spec §4.3) by `loss` (forward
  /// on [segments, dim] rows, backward accumulating into their gradient), backpropagated
  /// through the pooling into the encoder. cuda: needs <ecgssl/cuda/nonzero_mean_pool.cuh>.
  template <class Encoder, class Loss>
  T pooled_loss(Encoder& encoder, const encoded_type& encoded, Loss& loss) {
    using pool = implementation_t<loss_detail::nonzero_mean_pool_op, Backend>;
    // encoded: [segments, frames, dim] -> pooled: [segments, dim]
    pool::forward(encoded, pooled_, counts_);
    const T value = loss.forward(pooled_);
    nn::detail::zero_like(dpooled_, pooled_.shape());
    loss.backward(T(1), dpooled_);
    backward(encoder, encoded, [&](encoded_type& dencoded) { pool::backward(dpooled_, counts_, dencoded); });
    return value;
  }

 private:
  tensor<T, 3> converted_;      // the batch in T (T != float)
  encoded_type device_input_;   // cuda: the uploaded batch (unused on the host)
  encoded_type dencoded_;       // d loss / d encoded
  backend_tensor_t<T, 2, Backend> pooled_, counts_, dpooled_;  // pooled_loss: [segments, dim]
};

/// One named term whose value is already the mean loss.
inline micro_batch_result mean_loss_result(const std::string& name, double value) {
  micro_batch_result r;
  r.loss_sum = value;
  r.sample_size = 1.0;
  r.terms = {{name, value}};
  return r;
}

}  // namespace ecgssl::pipeline::detail

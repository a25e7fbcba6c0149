#pragma once
/// \file attention_core.hpp
/// Declarations shared by nn::multi_head_attention and the device backends' attention core
/// (spec §3.7): the operation tag and the per-backend state the layer keeps.

#include "../../core/backend.hpp"

namespace ecgssl::nn::detail {

/// Operation tag of the attention core (scores, softmax, dropout, context) on device backends;
/// `implementation<attention_core_op, cuda>` is in <ecgssl/cuda/attention_kernels.cuh>. The host
/// layer computes its core inline.
struct attention_core_op;

/// What multi_head_attention keeps per backend besides its activations: nothing on the host;
/// on cuda (specialised in attention_kernels.cuh) the device copy of the key padding mask and
/// the core's scratch buffers.
template <class B, class T>
struct attention_state;
template <class T>
struct attention_state<host, T> {};

}  // namespace ecgssl::nn::detail

#pragma once
/// \file segment_embedder.hpp
/// Embeddings of 5 s segments from a pre-trained encoder (spec §6.1): eval mode, no time
/// masking, no RLM; the transformer output is mean-pooled over time with the reference's
/// non-zero count. One class on every backend; the parameters stay resident on the device.

#include <optional>
#include <string>
#include <type_traits>

#include "../../core/backend.hpp"
#include "../../core/backend_tensor.hpp"
#include "../../core/tensor.hpp"
#include "../../loss/detail/nonzero_mean_pool.hpp"
#include "../../model/configs.hpp"
#include "../../nn/detail/common.hpp"
#include "../../optim/training_backend.hpp"
#include "pretrained_encoder.hpp"

namespace ecgssl::pipeline {

/// A pre-trained encoder in evaluation mode on `Backend` (cuda: the translation unit includes
/// <ecgssl/cuda/nonzero_mean_pool.cuh> and the encoder's kernels).
template <class Backend>
class segment_embedder {
 public:
  /// `checkpoint`: a pre-training checkpoint; `config`: a configuration name or JSON file that
  /// overrides the checkpoint's (nullopt: the checkpoint's own).
  segment_embedder(const std::string& checkpoint, const std::optional<std::string>& config)
      : model_(checkpoint, config), parameters_(model_.parameters()) {}

  /// Pools each segment of `batch` [segments, 12, samples] into its embedding row of
  /// `pooled` [segments, D]. Attention mixes nothing across segments (time attention), so a
  /// record's segments go through in one forward.
  void pool(const tensor<float, 3>& batch, tensor<float, 2>& pooled) {
    using pool_op = implementation_t<loss_detail::nonzero_mean_pool_op, Backend>;
    if constexpr (std::is_same_v<Backend, host>) {
      pool_op::forward(model_.encoder().forward(batch).encoded, pooled, counts_);
    } else {
      nn::detail::assign_from_host(input_, batch);
      pool_op::forward(model_.encoder().forward(input_).encoded, pooled_, counts_);
      pooled_.copy_to_host(pooled);
    }
  }

 private:
  using config_type = model::tiny_config<float, Backend>;
  pretrained_encoder<config_type> model_;
  inference_parameters<float, Backend> parameters_;
  backend_tensor_t<float, 3, Backend> input_;            // cuda: the uploaded batch
  backend_tensor_t<float, 2, Backend> pooled_, counts_;  // pooled_: cuda only (the host pools into the caller's)
};

}  // namespace ecgssl::pipeline

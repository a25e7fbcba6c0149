// The GPU pipelines of the `ecgssl` command (issue 8): compiled by nvcc and linked into the
// command when the project is built with CUDA (app/CMakeLists.txt defines
// ECGSSL_CLI_WITH_CUDA for every translation unit of the command). Only what runs on the GPU is here, so the
// slow CUDA compile stays small; everything else is in the host-compiled app/<subcommand>.cpp.
#include <ecgssl/cuda/arcface.cuh>
#include <ecgssl/cuda/attention_kernels.cuh>
#include <ecgssl/cuda/bce_with_logits.cuh>
#include <ecgssl/cuda/cmsc_loss.cuh>
#include <ecgssl/cuda/conv1d_kernels.cuh>
#include <ecgssl/cuda/device_tensor.cuh>
#include <ecgssl/cuda/diversity_loss.cuh>
#include <ecgssl/cuda/elementwise_kernels.cuh>
#include <ecgssl/cuda/feature_penalty.cuh>
#include <ecgssl/cuda/gumbel_quantizer_kernels.cuh>
#include <ecgssl/cuda/layout_kernels.cuh>
#include <ecgssl/cuda/linear_kernels.cuh>
#include <ecgssl/cuda/nonzero_mean_pool.cuh>
#include <ecgssl/cuda/norm_kernels.cuh>
#include <ecgssl/cuda/nt_xent.cuh>
#include <ecgssl/cuda/pos_conv_kernels.cuh>
#include <ecgssl/cuda/span_mask_kernels.cuh>
#include <ecgssl/cuda/training_backend.cuh>
#include <ecgssl/cuda/wav2vec2_contrastive.cuh>
#include <ecgssl/pipeline/embedding/segment_embedder.hpp>
#include <ecgssl/pipeline/pretraining/benchmark.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "detail/evaluate_run.hpp"
#include "detail/finetune_run.hpp"
#include "detail/pretrain_run.hpp"

namespace ecgssl::cli::detail {

int pretrain_on_cuda(const pretrain_settings& s, const model::ecg_transformer_options& options,
                     const data::wfdb_dataset& data, std::ostream& out) {
  return dispatch_pretraining<model::tiny_config<float, cuda>>(s, options, data, out);
}

pipeline::pretraining_timings time_pretraining_on_cuda(const model::ecg_transformer_options& options,
                                                       const data::batch& b, std::int64_t steps) {
  return pipeline::time_pretraining<cuda>(options, b, steps);
}

int finetune_on_cuda(const finetune_job& job, std::ostream& out) { return fine_tune<cuda>(job, out); }

std::vector<pipeline::lead_set_evaluation> evaluate_on_cuda(const io::checkpoint& ck,
                                                            const pipeline::finetune_checkpoint_info& info,
                                                            const data::segment_set& part,
                                                            const std::vector<std::string>& sets) {
  return evaluate_checkpoint<cuda>(ck, info, part, sets);
}

using segment_pooler = std::function<void(const tensor<float, 3>& batch, tensor<float, 2>& pooled)>;

segment_pooler segment_pooler_on_cuda(const std::string& checkpoint, const std::optional<std::string>& config) {
  auto embedder = std::make_shared<pipeline::segment_embedder<cuda>>(checkpoint, config);
  return [embedder](const tensor<float, 3>& batch, tensor<float, 2>& pooled) { embedder->pool(batch, pooled); };
}

}  // namespace ecgssl::cli::detail

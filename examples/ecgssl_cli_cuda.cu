// The GPU pipelines of the `ecgssl` command (issue 8): compiled by nvcc and linked into the
// command when the project is built with CUDA (examples/CMakeLists.txt defines
// ECGSSL_CLI_WITH_CUDA for both translation units). Only what runs on the GPU is here, so the
// slow CUDA compile stays small; everything else is the host-compiled ecgssl_cli.cpp.
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
#include <ecgssl/cli/bench.hpp>
#include <ecgssl/cli/embed.hpp>
#include <ecgssl/cli/evaluate.hpp>
#include <ecgssl/cli/finetune.hpp>
#include <ecgssl/cli/pretrain.hpp>

namespace ecgssl::cli::detail {

int pretrain_on_cuda(const pretrain_settings& s, const model::ecg_transformer_options& options,
                     const pipeline::wfdb_dataset& data, std::ostream& out) {
  return dispatch_pretraining<model::tiny_config<float, cuda>>(s, options, data, out);
}

bench_timings time_pretraining_on_cuda(const model::ecg_transformer_options& options, const data::batch& b,
                                       std::int64_t steps) {
  return time_pretraining<cuda>(options, b, steps);
}

int finetune_on_cuda(const finetune_job& job, std::ostream& out) { return fine_tune<cuda>(job, out); }

std::vector<pipeline::lead_set_evaluation> evaluate_on_cuda(const io::checkpoint& ck,
                                                            const pipeline::finetune_checkpoint_info& info,
                                                            const pipeline::segment_set& part,
                                                            const std::vector<std::string>& sets) {
  return evaluate_checkpoint<cuda>(ck, info, part, sets);
}

segment_pooler segment_pooler_on_cuda(const std::string& checkpoint, const std::optional<std::string>& config) {
  return make_segment_pooler<cuda>(checkpoint, config);
}

}  // namespace ecgssl::cli::detail

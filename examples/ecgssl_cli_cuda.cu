// The GPU pipelines of the `ecgssl` command (issue 8): compiled by nvcc and linked into the
// command when the project is built with CUDA (examples/CMakeLists.txt defines
// ECGSSL_CLI_WITH_CUDA for both translation units). Only what runs on the GPU is here, so the
// slow CUDA compile stays small; everything else is the host-compiled ecgssl_cli.cpp.
#include <ecgssl/cuda/attention_kernels.cuh>
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

}  // namespace ecgssl::cli::detail

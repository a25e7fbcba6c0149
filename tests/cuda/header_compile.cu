// nvcc must accept every public header (CUDA translation units include them) and the .cuh files.
#include <ecgssl/cuda/arcface.cuh>
#include <ecgssl/cuda/attention_kernels.cuh>
#include <ecgssl/cuda/bce_with_logits.cuh>
#include <ecgssl/cuda/cmsc_loss.cuh>
#include <ecgssl/cuda/detail/arcface_math.cuh>
#include <ecgssl/cuda/detail/cmsc_math.cuh>
#include <ecgssl/cuda/detail/nt_xent_math.cuh>
#include <ecgssl/cuda/detail/wav2vec2_math.cuh>
#include <ecgssl/cuda/training_backend.cuh>
#include <ecgssl/cuda/wav2vec2_contrastive.cuh>
#include <ecgssl/cuda/conv1d_kernels.cuh>
#include <ecgssl/cuda/cuda_check.cuh>
#include <ecgssl/cuda/cuda_context.cuh>
#include <ecgssl/cuda/cuda_stream.cuh>
#include <ecgssl/cuda/device_buffer.cuh>
#include <ecgssl/cuda/device_parameters.cuh>
#include <ecgssl/cuda/device_tensor.cuh>
#include <ecgssl/cuda/detail/gumbel_math.cuh>
#include <ecgssl/cuda/diversity_loss.cuh>
#include <ecgssl/cuda/feature_penalty.cuh>
#include <ecgssl/cuda/gumbel_quantizer_kernels.cuh>
#include <ecgssl/cuda/elementwise_kernels.cuh>
#include <ecgssl/cuda/flat_ops.cuh>
#include <ecgssl/cuda/flat_updates.cuh>
#include <ecgssl/cuda/linear_kernels.cuh>
#include <ecgssl/cuda/device_optimizer.cuh>
#include <ecgssl/cuda/layout_kernels.cuh>
#include <ecgssl/cuda/span_mask_kernels.cuh>
#include <ecgssl/cuda/nonzero_mean_pool.cuh>
#include <ecgssl/cuda/norm_kernels.cuh>
#include <ecgssl/cuda/nt_xent.cuh>
#include <ecgssl/cuda/pos_conv_kernels.cuh>
#include <ecgssl/ecgssl.hpp>

#include <cstdio>
#include <type_traits>

__global__ void touch(float* out) {
  out[threadIdx.x] = ecgssl::random_stream(1, 2).uniform_float(threadIdx.x);
}

// The cuda backend keeps activations and workspaces in device memory.
static_assert(std::is_same_v<ecgssl::backend_tensor_t<float, 3, ecgssl::cuda>, ecgssl::device_tensor<float, 3>>);
static_assert(std::is_same_v<ecgssl::backend_array_t<double, ecgssl::cuda>, ecgssl::device_buffer<double>>);

int main() {
  // Host-side use of the same headers; no GPU needed to run this.
  ecgssl::parameter_store<float> store;
  store.add("w", {4});
  store.allocate();
  std::printf("nvcc compiled ecgssl %s (%zu parameters)\n", ECGSSL_VERSION_STRING, store.size());
  return store.size() == 4 ? 0 : 1;
}

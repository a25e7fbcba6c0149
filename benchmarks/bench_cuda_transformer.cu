// GPU benchmark: one training step (forward + backward, parameter gradients included) of the
// base encoder's transformer stack (spec §3.7: 12 post-LN layers, D 768, H 12, F 3072, dropout
// 0.1, attention dropout 0.1) on the cuda backend, at the frame count of a 2500-sample segment
// after the base extractor (2500 / 2^4 = 156 frames). This is the part of the base pre-training
// step that runs on the GPU so far (docs/backends.md); the extractor, pos_conv, masking,
// quantizer, heads and losses do not yet. benchmarks/compare_pytorch_cuda.py times the same
// stack in PyTorch on the same GPU and runs this program for the ratio.
//
//   ecgssl_bench_cuda_transformer [--batch 8] [--time 156] [--layers 12] [--warmup 3] [--iters 20]
//                                 [--host]   (also time the host backend, slow at this size)
// Prints one JSON object: milliseconds per step (median of --iters), shapes, device name.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/attention_kernels.cuh>
#include <ecgssl/cuda/device_parameters.cuh>
#include <ecgssl/cuda/device_tensor.cuh>
#include <ecgssl/cuda/elementwise_kernels.cuh>
#include <ecgssl/cuda/linear_kernels.cuh>
#include <ecgssl/cuda/norm_kernels.cuh>
#include <ecgssl/nn/transformer_layer.hpp>

namespace {

struct settings {
  std::size_t batch = 8, time = 156, layers = 12, warmup = 3, iters = 20;
  bool host = false;
};

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::size_t {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return static_cast<std::size_t>(std::strtoull(argv[++i], nullptr, 10));
    };
    if (a == "--batch") s.batch = next();
    else if (a == "--time") s.time = next();
    else if (a == "--layers") s.layers = next();
    else if (a == "--warmup") s.warmup = next();
    else if (a == "--iters") s.iters = std::max<std::size_t>(1, next());
    else if (a == "--host") s.host = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      std::exit(2);
    }
  }
  return s;
}

ecgssl::nn::transformer_layer_options base_layer() {
  ecgssl::nn::transformer_layer_options o;  // defaults = BERT-base / the paper's encoder
  o.dim = 768;
  o.heads = 12;
  o.ffn_dim = 3072;
  o.dropout = 0.1;
  o.attention_dropout = 0.1;
  o.layer_norm_first = false;
  return o;
}

// Median milliseconds of `iters` steps after `warmup` on backend B.
template <class B, class Sync>
double time_stack(const settings& s, Sync sync) {
  using layer_t = ecgssl::nn::transformer_layer<float, B>;
  using act = typename layer_t::input_type;
  std::vector<std::unique_ptr<layer_t>> layers;
  ecgssl::parameter_store<float> store;
  for (std::size_t l = 0; l < s.layers; ++l) {
    layers.push_back(std::make_unique<layer_t>(base_layer()));
    layers.back()->declare_parameters(store, "encoder.layers." + std::to_string(l) + ".");
  }
  store.allocate();
  const ecgssl::random_stream init(1, 2);
  for (std::size_t l = 0; l < s.layers; ++l) layers[l]->initialize(ecgssl::random_stream(1, 100 + l));

  ecgssl::tensor<float, 3> x_host({s.batch, s.time, 768});
  ecgssl::tensor<float, 3> dy_host({s.batch, s.time, 768});
  for (std::size_t i = 0; i < x_host.size(); ++i) {
    x_host.data()[i] = static_cast<float>(init.normal(i));
    dy_host.data()[i] = static_cast<float>(init.normal(x_host.size() + i) * 1e-3);
  }
  std::unique_ptr<ecgssl::device_parameters<float>> mirror;
  act x, dy;
  if constexpr (std::is_same_v<B, ecgssl::cuda>) {
    mirror = std::make_unique<ecgssl::device_parameters<float>>(store);
    x.copy_from_host(x_host);
    dy.copy_from_host(dy_host);
  } else {
    x = x_host;
    dy = dy_host;
  }
  std::vector<act> acts(s.layers + 1), grads(s.layers + 1);
  ecgssl::nn::detail::copy_into(acts[0], x);
  std::vector<double> ms;
  for (std::size_t it = 0; it < s.warmup + s.iters; ++it) {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t l = 0; l < s.layers; ++l) {
      layers[l]->set_random_stream(ecgssl::random_stream(7, ecgssl::stream_id({1, it, l})));
      layers[l]->forward(acts[l], acts[l + 1]);
    }
    ecgssl::nn::detail::copy_into(grads[s.layers], dy);
    for (std::size_t l = s.layers; l-- > 0;) {
      ecgssl::nn::detail::zero_like(grads[l], acts[l].shape());
      layers[l]->backward(grads[l + 1], grads[l]);
    }
    sync();
    const double elapsed =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (it >= s.warmup) ms.push_back(elapsed);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const settings s = parse(argc, argv);
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("{\"skipped\": \"no CUDA device\"}\n");
    return 77;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  const double cuda_ms = time_stack<ecgssl::cuda>(s, [] {
    if (cudaDeviceSynchronize() != cudaSuccess) std::abort();
  });
  double host_ms = -1;
  if (s.host) host_ms = time_stack<ecgssl::host>(s, [] {});
  std::printf(
      "{\"what\": \"transformer stack fwd+bwd (post-LN, D 768, H 12, F 3072, dropout 0.1)\", "
      "\"device\": \"%s\", \"batch\": %zu, \"time\": %zu, \"layers\": %zu, \"iters\": %zu, "
      "\"cuda_ms_per_step\": %.3f, \"host_ms_per_step\": %.3f}\n",
      prop.name, s.batch, s.time, s.layers, s.iters, cuda_ms, host_ms);
  return 0;
}

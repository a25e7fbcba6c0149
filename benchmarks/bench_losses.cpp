// Google Benchmarks of the losses at the paper's shapes (spec §4): W2V+CMSC micro-batch of 128
// segments (64 CMSC pairs), ~56 masked frames of 156, K = 100 negatives, final_dim 256,
// encoder width 768; G·V = 640 codewords; ArcFace with 69,978 identities.
//
// Build by hand (the lead wires CMake):
//   g++ -std=c++20 -O3 -march=native -fopenmp -DNDEBUG -Iinclude -I/usr/include/eigen3 \
//       benchmarks/bench_losses.cpp -o build/bench_losses -lbenchmark -lpthread
//   OMP_NUM_THREADS=<n> ./build/bench_losses

#include <benchmark/benchmark.h>

#include <ecgssl/core/philox.hpp>
#include <ecgssl/loss/arcface.hpp>
#include <ecgssl/loss/bce_with_logits.hpp>
#include <ecgssl/loss/cmsc_loss.hpp>
#include <ecgssl/loss/diversity_loss.hpp>
#include <ecgssl/loss/feature_penalty.hpp>
#include <ecgssl/loss/wav2vec2_contrastive.hpp>

#include <cstdint>
#include <vector>

namespace {

template <class T, std::size_t N>
void fill_normal(ecgssl::tensor<T, N>& t, std::uint64_t seed) {
  const ecgssl::random_stream rng(seed, 0);
  T* data = t.data();
  ecgssl::parallel_for(static_cast<std::int64_t>(t.size()), [&](std::int64_t i) {
    data[i] = static_cast<T>(rng.normal(static_cast<std::uint64_t>(i)));
  });
}

constexpr std::size_t segments = 128;
constexpr std::size_t masked = 56;
constexpr std::size_t final_dim = 256;
constexpr std::size_t frames = 156;
constexpr std::size_t width = 768;

void bm_wav2vec2_contrastive(benchmark::State& state) {
  ecgssl::contrastive_input<float> in{ecgssl::tensor<float, 3>::from_shape({segments, masked, final_dim}),
                                      ecgssl::tensor<float, 3>::from_shape({segments, masked, final_dim})};
  fill_normal(in.predictions, 1);
  fill_normal(in.targets, 2);
  ecgssl::contrastive_input<float> grad{xt::zeros<float>(in.predictions.shape()), xt::zeros<float>(in.targets.shape())};
  ecgssl::wav2vec2_contrastive<float> loss;
  std::int64_t step = 0;
  for (auto _ : state) {
    loss.set_step(step++);
    benchmark::DoNotOptimize(loss.forward(in));
    loss.backward(1.0f, grad);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(segments * masked));
  state.counters["frames"] = static_cast<double>(segments * masked);
}
BENCHMARK(bm_wav2vec2_contrastive)->Unit(benchmark::kMillisecond)->UseRealTime();

void bm_wav2vec2_contrastive_forward(benchmark::State& state) {
  ecgssl::contrastive_input<float> in{ecgssl::tensor<float, 3>::from_shape({segments, masked, final_dim}),
                                      ecgssl::tensor<float, 3>::from_shape({segments, masked, final_dim})};
  fill_normal(in.predictions, 1);
  fill_normal(in.targets, 2);
  ecgssl::wav2vec2_contrastive<float> loss;
  for (auto _ : state) benchmark::DoNotOptimize(loss.forward(in));
}
BENCHMARK(bm_wav2vec2_contrastive_forward)->Unit(benchmark::kMillisecond)->UseRealTime();

void bm_cmsc(benchmark::State& state) {
  auto x = ecgssl::tensor<float, 3>::from_shape({segments, frames, width});
  fill_normal(x, 3);
  ecgssl::tensor<float, 3> grad = xt::zeros<float>(x.shape());
  std::vector<std::int64_t> records(segments), positions(segments);
  for (std::size_t i = 0; i < segments; ++i) {
    records[i] = static_cast<std::int64_t>(i / 2);
    positions[i] = static_cast<std::int64_t>(i % 2);
  }
  ecgssl::cmsc_loss<float> loss;
  loss.set_targets(records, positions);
  for (auto _ : state) {
    benchmark::DoNotOptimize(loss.forward(x));
    loss.backward(1.0f, grad);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(bm_cmsc)->Unit(benchmark::kMillisecond)->UseRealTime();

void bm_diversity(benchmark::State& state) {
  auto logits = ecgssl::tensor<float, 2>::from_shape({segments * masked, 640});
  fill_normal(logits, 4);
  ecgssl::tensor<float, 2> grad = xt::zeros<float>(logits.shape());
  ecgssl::diversity_loss<float> loss;
  for (auto _ : state) {
    benchmark::DoNotOptimize(loss.forward(logits));
    loss.backward(1.0f, grad);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(bm_diversity)->Unit(benchmark::kMillisecond)->UseRealTime();

void bm_feature_penalty(benchmark::State& state) {
  auto z = ecgssl::tensor<float, 3>::from_shape({segments, 256, frames});
  fill_normal(z, 5);
  ecgssl::tensor<float, 3> grad = xt::zeros<float>(z.shape());
  ecgssl::feature_penalty<float> loss;
  for (auto _ : state) {
    benchmark::DoNotOptimize(loss.forward(z));
    loss.backward(1.0f, grad);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(bm_feature_penalty)->Unit(benchmark::kMillisecond)->UseRealTime();

void bm_bce(benchmark::State& state) {
  auto logits = ecgssl::tensor<float, 2>::from_shape({128, 26});
  fill_normal(logits, 6);
  ecgssl::tensor<float, 2> targets = xt::zeros<float>(logits.shape());
  for (std::size_t i = 0; i < 128; ++i) targets(i, i % 26) = 1.0f;
  ecgssl::tensor<float, 2> grad = xt::zeros<float>(logits.shape());
  ecgssl::bce_with_logits<float> loss;
  loss.set_targets(targets);
  for (auto _ : state) {
    benchmark::DoNotOptimize(loss.forward(logits));
    loss.backward(1.0f, grad);
  }
}
BENCHMARK(bm_bce)->Unit(benchmark::kMicrosecond)->UseRealTime();

void bm_arcface(benchmark::State& state) {
  const auto classes = static_cast<std::size_t>(state.range(0));
  auto x = ecgssl::tensor<float, 2>::from_shape({128, width});
  fill_normal(x, 7);
  auto weight = ecgssl::tensor<float, 2>::from_shape({classes, width});
  fill_normal(weight, 8);
  ecgssl::tensor<float, 2> weight_grad = xt::zeros<float>(weight.shape());
  ecgssl::tensor<float, 2> grad = xt::zeros<float>(x.shape());
  std::vector<std::int64_t> labels(128);
  for (std::size_t i = 0; i < 128; ++i) labels[i] = static_cast<std::int64_t>((i * 7919) % classes);
  ecgssl::arcface<float> loss(classes, width);
  loss.bind_weights(ecgssl::as_span(std::as_const(weight)), ecgssl::as_span(weight_grad));
  loss.set_targets(labels);
  for (auto _ : state) {
    benchmark::DoNotOptimize(loss.forward(x));
    loss.backward(1.0f, grad);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(bm_arcface)->Arg(69978)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

// Encoder throughput: forward and forward+backward of ecg_transformer (pre-training mode: span
// masking, quantizer and heads included) at the tiny, small and base sizes, batch x 12 x 2500.
//
// Built by CMake as ecgssl_bench_encoder (with -march=native, ECGSSL_BENCH_NATIVE); by hand:
//   g++ -std=c++20 -O3 -march=native -fopenmp -DNDEBUG -Iinclude -I/usr/include/eigen3 \
//       benchmarks/bench_encoder.cpp -o build/bench_encoder -lbenchmark -lpthread
// Run: OMP_NUM_THREADS=2 ./build/bench_encoder [--benchmark_filter=base] [ECGSSL_BENCH_BATCH=8]
// Counters: GFLOP/s from the analytic FLOP count below (backward counted as 2x forward),
// peak_rss_MiB = the process's peak resident set so far (VmHWM).

#include <benchmark/benchmark.h>

#include <ecgssl/model/ecg_transformer.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

namespace {

std::size_t batch_size() {
  const char* env = std::getenv("ECGSSL_BENCH_BATCH");
  return env != nullptr ? static_cast<std::size_t>(std::atoi(env)) : 8;
}

double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0.0;
}

// Multiply-adds x 2 of one forward pass (matrix products and convolutions only).
double forward_flops(const ecgssl::model::ecg_transformer_options& o, std::size_t batch, std::size_t samples,
                     std::size_t masked_rows) {
  double flops = 0;
  double length = static_cast<double>(samples);
  double in = static_cast<double>(o.in_channels);
  const double b = static_cast<double>(batch);
  for (std::size_t i = 0; i < o.conv_layers; ++i) {
    length = std::floor((length - double(o.conv_kernel)) / double(o.conv_stride)) + 1;
    flops += 2 * b * length * double(o.conv_dim) * in * double(o.conv_kernel);
    in = double(o.conv_dim);
  }
  const double t = length, c = double(o.conv_dim), d = double(o.embed_dim), f = double(o.ffn_dim);
  if (o.conv_dim != o.embed_dim) flops += 2 * b * t * c * d;
  flops += 2 * b * t * d * (d / double(o.pos_groups)) * double(o.pos_kernel);
  flops += double(o.layers) * (8 * b * t * d * d + 4 * b * t * t * d + 4 * b * t * d * f);
  const double rows = double(masked_rows);
  const double gv = double(o.latent_groups * o.latent_vars), fd = double(o.final_dim);
  flops += 2 * rows * (d * fd + c * gv + fd * fd);
  return flops;
}

template <class Config>
void run(benchmark::State& state, bool with_backward) {
  using model_t = ecgssl::model::ecg_transformer<Config>;
  const std::size_t batch = batch_size();
  const std::size_t samples = 2500;
  auto store = std::make_unique<ecgssl::parameter_store<float>>();
  auto model = std::make_unique<model_t>();
  model->declare_parameters(*store);
  store->allocate();
  model->initialize(ecgssl::random_stream(1, 1));
  model->set_training(true);
  ecgssl::tensor<float, 3> x = ecgssl::tensor<float, 3>::from_shape({batch, model->options().in_channels, samples});
  const ecgssl::random_stream rng(2, 2);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(0.3 * rng.normal(i));
  typename model_t::gradients g;
  std::uint64_t step = 0;
  std::size_t rows = 0;
  auto iteration = [&]() {
    model->set_step(7, step++);
    const auto& out = model->forward(x);
    rows = out.predictions.shape()[0];
    if (with_backward) {
      g.predictions = out.predictions * 1e-3f;
      g.targets = out.targets * 1e-3f;
      g.features = out.features * 1e-4f;
      g.encoded = out.encoded * 1e-4f;
      g.prob_perplexity = -1e-3f;
      store->zero_grad();
      model->backward(g);
    }
    benchmark::DoNotOptimize(store->grads().data());
    benchmark::ClobberMemory();
  };
  iteration();  // warm-up: first touch of every workspace, outside the timing
  for (auto _ : state) iteration();
  const double flops = forward_flops(model->options(), batch, samples, rows) * (with_backward ? 3.0 : 1.0);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP_per_iter"] = flops * 1e-9;
  state.counters["peak_rss_MiB"] = peak_rss_mib();
  state.counters["threads"] = ecgssl::max_threads();
  state.counters["batch"] = static_cast<double>(batch);
}

}  // namespace

#define ECGSSL_ENCODER_BENCH(size)                                                              \
  void size##_forward(benchmark::State& state) { run<ecgssl::model::size##_config<float>>(state, false); } \
  void size##_forward_backward(benchmark::State& state) {                                     \
    run<ecgssl::model::size##_config<float>>(state, true);                                    \
  }                                                                                           \
  BENCHMARK(size##_forward)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();                    \
  BENCHMARK(size##_forward_backward)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

ECGSSL_ENCODER_BENCH(tiny)
ECGSSL_ENCODER_BENCH(small)
ECGSSL_ENCODER_BENCH(base)

BENCHMARK_MAIN();

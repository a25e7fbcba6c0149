// Google Benchmark of the nn layers at the base configuration's shapes (spec §3.3-§3.7): a batch
// of 8 segments of 12 x 2500 samples, T = 156 frames, D = 768, FFN 3072. Each benchmark reports
// GFLOP/s (multiply-adds count 2) or GB/s for memory-bound layers. The rates are per CPU-second
// of the whole process (MeasureProcessCPUTime), so they stay meaningful on a shared machine:
// with OMP_NUM_THREADS=1 they are single-core throughput; on an idle machine the wall-clock
// throughput is about the rate times the thread count (compare the Time and CPU columns).
//
// Build by hand (the lead wires benchmarks/CMakeLists.txt):
//   g++ -std=c++20 -O3 -march=native -fopenmp -DNDEBUG -Iinclude -I/usr/include/eigen3 \
//       benchmarks/bench_nn_layers.cpp -o /tmp/bench_nn_layers -lbenchmark -lpthread
//   /tmp/bench_nn_layers
#include <ecgssl/nn/conv1d.hpp>
#include <ecgssl/nn/dropout.hpp>
#include <ecgssl/nn/gelu.hpp>
#include <ecgssl/nn/group_norm.hpp>
#include <ecgssl/nn/layer_norm.hpp>
#include <ecgssl/nn/linear.hpp>

#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>

namespace {

namespace nn = ecgssl::nn;
constexpr std::size_t batch = 8;

template <std::size_t N>
ecgssl::tensor<float, N> random_input(const std::array<std::size_t, N>& shape) {
  ecgssl::tensor<float, N> t(shape);
  const ecgssl::random_stream rng(1, 2);
  for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<float>(rng.uniform(i) * 2.0 - 1.0);
  return t;
}

void set_counters(benchmark::State& state, double flops, double bytes) {
  if (flops > 0) {
    state.counters["GFLOP"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  }
  if (bytes > 0) {
    state.counters["GB"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  }
}

/// Runs forward (range(0) == 0) or forward+backward (range(0) == 1) of a layer.
template <class Layer, class Input>
void run_layer(benchmark::State& state, Layer& layer, ecgssl::parameter_store<float>& store, const Input& x,
               double forward_flops, double backward_flops, double forward_bytes, double backward_bytes) {
  layer.declare_parameters(store, "");
  store.allocate();
  if constexpr (requires { layer.initialize(ecgssl::random_stream(0, 0)); }) {
    layer.initialize(ecgssl::random_stream(3, 4));
  }
  const bool with_backward = state.range(0) == 1;
  typename Layer::output_type y;
  layer.forward(x, y);
  typename Layer::output_type dy = y;
  Input dx = x;
  for (auto _ : state) {
    layer.forward(x, y);
    if (with_backward) layer.backward(dy, dx);
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, forward_flops + (with_backward ? backward_flops : 0.0),
               forward_bytes + (with_backward ? backward_bytes : 0.0));
  state.SetLabel(with_backward ? "forward+backward" : "forward");
}

// Extractor conv 1: 12 -> 256, k = s = 2 over 2500 samples (spec §3.3).
void conv1d_extractor_first(benchmark::State& state) {
  ecgssl::parameter_store<float> store;
  nn::conv1d<float> conv(nn::conv1d_options{12, 256, 2, 2, 0, 1, 1, false});
  const auto x = random_input<3>({batch, 12, 2500});
  const double f = 2.0 * batch * 256 * 1250 * 24;
  run_layer(state, conv, store, x, f, 2 * f, 0, 0);
}
// Extractor convs 2-4: 256 -> 256, k = s = 2 (shown at the first of them, 1250 -> 625).
void conv1d_extractor_inner(benchmark::State& state) {
  ecgssl::parameter_store<float> store;
  nn::conv1d<float> conv(nn::conv1d_options{256, 256, 2, 2, 0, 1, 1, false});
  const auto x = random_input<3>({batch, 256, 1250});
  const double f = 2.0 * batch * 256 * 625 * 512;
  run_layer(state, conv, store, x, f, 2 * f, 0, 0);
}
// Positional conv: 768 -> 768, k = 128, padding 64, 16 groups over 156 frames (spec §3.6).
void conv1d_positional(benchmark::State& state) {
  ecgssl::parameter_store<float> store;
  nn::conv1d<float> conv(nn::conv1d_options{768, 768, 128, 1, 64, 1, 16, true});
  const auto x = random_input<3>({batch, 768, 156});
  const double f = 2.0 * batch * 768 * 157 * 48 * 128;
  run_layer(state, conv, store, x, f, 2 * f, 0, 0);
}
// GroupNorm(256, 256) after the first conv: [8, 256, 1250].
void group_norm_extractor(benchmark::State& state) {
  ecgssl::parameter_store<float> store;
  nn::group_norm<float> gn(256, 256);
  const auto x = random_input<3>({batch, 256, 1250});
  const double n = static_cast<double>(x.size());
  run_layer(state, gn, store, x, 0, 0, 3 * 4 * n, 4 * 4 * n);
}
// FFN linear 768 -> 3072 over 156 frames (spec §3.7).
void linear_ffn(benchmark::State& state) {
  ecgssl::parameter_store<float> store;
  nn::linear<float> fc(768, 3072);
  const auto x = random_input<3>({batch, 156, 768});
  const double f = 2.0 * batch * 156 * 768 * 3072;
  run_layer(state, fc, store, x, f, 2 * f, 0, 0);
}
// LayerNorm(768) over [8, 156, 768].
void layer_norm_768(benchmark::State& state) {
  ecgssl::parameter_store<float> store;
  nn::layer_norm<float> ln(768, 1e-6);
  const auto x = random_input<3>({batch, 156, 768});
  const double n = static_cast<double>(x.size());
  run_layer(state, ln, store, x, 0, 0, 3 * 4 * n, 4 * 4 * n);
}
// GELU over the FFN hidden activations [8, 156, 3072].
void gelu_ffn(benchmark::State& state) {
  ecgssl::parameter_store<float> store;
  nn::gelu<float> g;
  const auto x = random_input<3>({batch, 156, 3072});
  const double n = static_cast<double>(x.size());
  run_layer(state, g, store, x, 0, 0, 3 * 4 * n, 4 * 4 * n);
}
// Dropout(0.1) over [8, 156, 768] with a fresh counter-based mask per forward.
void dropout_768(benchmark::State& state) {
  ecgssl::parameter_store<float> store;
  nn::dropout<float> d(0.1);
  d.set_random_stream(ecgssl::random_stream(1, 1));
  const auto x = random_input<3>({batch, 156, 768});
  const double n = static_cast<double>(x.size());
  run_layer(state, d, store, x, 0, 0, 3 * 4 * n, 4 * 4 * n);
}

}  // namespace

BENCHMARK(conv1d_extractor_first)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(conv1d_extractor_inner)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(conv1d_positional)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(group_norm_extractor)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(linear_ffn)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(layer_norm_768)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(gelu_ffn)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(dropout_768)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK_MAIN();

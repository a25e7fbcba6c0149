// Google Benchmarks of one optimizer update over the full pre-training model's flat buffer
// (90,883,072 float parameters, spec §11), against a STREAM-like triad over the same memory as
// the memory-bandwidth yardstick.
//
// Build by hand (the lead wires CMake):
//   g++ -std=c++20 -O3 -march=native -fopenmp -DNDEBUG -Iinclude -I/usr/include/eigen3 \
//       benchmarks/bench_optim.cpp -o build/bench_optim -lbenchmark -lpthread
//   OMP_NUM_THREADS=<n> ./build/bench_optim

#include <benchmark/benchmark.h>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/core/threading.hpp>
#include <ecgssl/optim/adam.hpp>
#include <ecgssl/optim/adamw.hpp>
#include <ecgssl/optim/fixed_schedule.hpp>
#include <ecgssl/optim/optimizer.hpp>
#include <ecgssl/optim/sgd.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace {

constexpr std::size_t parameters = 90'883'072;

/// One store of the base model's size, split into 16 tensors so groups and pieces are exercised.
std::unique_ptr<ecgssl::parameter_store<float>> make_store() {
  auto store = std::make_unique<ecgssl::parameter_store<float>>();
  const std::size_t part = parameters / 16;
  for (int i = 0; i < 16; ++i) {
    const std::size_t size = i == 15 ? parameters - 15 * part : part;
    store->add("p" + std::to_string(i), {size}, ecgssl::parameter_attributes{i % 4 != 3, true});
  }
  store->allocate();
  auto values = store->values();
  auto grads = store->grads();
  ecgssl::parallel_for(static_cast<std::int64_t>(parameters), [&](std::int64_t i) {
    values[static_cast<std::size_t>(i)] = 1e-3f * static_cast<float>(i % 1000);
    grads[static_cast<std::size_t>(i)] = 1e-4f * static_cast<float>(i % 777);
  });
  return store;
}

/// Bytes moved by one update: read p, g and every state buffer, write p and every state buffer.
template <class U>
double bytes_per_update() {
  const double states = static_cast<double>(U::state_names.size());
  return static_cast<double>(parameters) * sizeof(float) * (2.0 + states + 1.0 + states);
}

template <class U>
void bm_optimizer_step(benchmark::State& state, U rule, double clip) {
  auto store = make_store();
  ecgssl::optimizer_options options;
  options.max_gradient_norm = clip;
  ecgssl::optimizer<U, ecgssl::fixed_schedule, float> opt(*store, rule, ecgssl::fixed_schedule{5e-5}, options);
  opt.step();  // allocates and first-touches the state
  for (auto _ : state) {
    benchmark::DoNotOptimize(opt.step(1.0 / 7000.0));
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(bytes_per_update<U>() * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

void bm_adam_fairseq(benchmark::State& state) { bm_optimizer_step(state, ecgssl::adam{0.9, 0.98, 1e-6, 0.01}, 0.0); }
void bm_adam_fairseq_clip(benchmark::State& state) { bm_optimizer_step(state, ecgssl::adam{0.9, 0.98, 1e-6, 0.01}, 1.0); }
void bm_adamw(benchmark::State& state) { bm_optimizer_step(state, ecgssl::adamw{}, 0.0); }
void bm_sgd_nesterov(benchmark::State& state) {
  ecgssl::sgd rule;
  rule.momentum = 0.9;
  rule.nesterov = true;
  bm_optimizer_step(state, rule, 0.0);
}
BENCHMARK(bm_adam_fairseq)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_adam_fairseq_clip)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_adamw)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_sgd_nesterov)->Unit(benchmark::kMillisecond)->UseRealTime();

/// a = b + s·c over the same element count: 3 streams (reads b, c; writes a).
void bm_stream_triad(benchmark::State& state) {
  std::vector<float> a(parameters), b(parameters, 1.0f), c(parameters, 2.0f);
  ecgssl::parallel_for(static_cast<std::int64_t>(parameters), [&](std::int64_t i) { a[static_cast<std::size_t>(i)] = 0.0f; });
  for (auto _ : state) {
    float* ECGSSL_RESTRICT pa = a.data();
    const float* ECGSSL_RESTRICT pb = b.data();
    const float* ECGSSL_RESTRICT pc = c.data();
    const std::int64_t chunks = (static_cast<std::int64_t>(parameters) + 65535) / 65536;
    ecgssl::parallel_for(chunks, [&](std::int64_t k) {
      const std::size_t begin = static_cast<std::size_t>(k) * 65536;
      const std::size_t end = std::min(parameters, begin + 65536);
      for (std::size_t i = begin; i < end; ++i) pa[i] = pb[i] + 0.5f * pc[i];
    });
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(3.0 * parameters * sizeof(float) * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(bm_stream_triad)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

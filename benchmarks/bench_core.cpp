// Throughput of the core primitives every pipeline leans on: counter-based random numbers and
// deterministic reductions over a flat buffer the size of the base model (90.9M parameters).
#include <benchmark/benchmark.h>

#include <ecgssl/core/philox.hpp>
#include <ecgssl/core/threading.hpp>

#include <vector>

static void philox_uniform_float(benchmark::State& state) {
  const ecgssl::random_stream rng(1, 2);
  std::vector<float> out(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    ecgssl::parallel_for(static_cast<std::int64_t>(out.size()),
                         [&](std::int64_t i) { out[static_cast<std::size_t>(i)] = rng.uniform_float(static_cast<std::uint64_t>(i)); });
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(philox_uniform_float)->Arg(1 << 20);

static void deterministic_sum_of_squares(benchmark::State& state) {
  std::vector<float> values(static_cast<std::size_t>(state.range(0)), 0.5f);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ecgssl::deterministic_sum_of_squares(std::span<const float>(values)));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * static_cast<std::int64_t>(sizeof(float)));
}
BENCHMARK(deterministic_sum_of_squares)->Arg(90883072)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();

// One matrix product of the base encoder's FFN shape (1248 x 768 times 768 x 3072: 8 segments x
// 156 frames), on one thread (the layers run one such serial product per thread), through each
// engine the library can use: Eigen and OpenBLAS in float32, oneDNN in float32 and bf16, and the
// library's own bf16 mode (nn/detail/gemm.hpp: oneDNN where it has a bf16 kernel, else a float32
// GEMM of rounded operands). Answers "would float32 products gain from oneDNN here?" and "what do
// bf16 products gain on this CPU?" (docs/precision.md). Counters: GFLOP/s by wall time; run it
// with OMP_NUM_THREADS=1 (oneDNN would otherwise thread a product that the library runs serially).
#include <ecgssl/core/precision.hpp>
#include <ecgssl/core/tensor.hpp>
#include <ecgssl/nn/detail/gemm.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#if defined(ECGSSL_BENCH_HAVE_OPENBLAS)
#include <cblas.h>
#endif


namespace {

constexpr long m = 1248, k = 768, n = 3072;

struct operands {
  std::vector<float> a = std::vector<float>(m * k), b = std::vector<float>(k * n), c = std::vector<float>(m * n);
  operands() {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 40503u) % 1000) / 1000.0f - 0.5f;
  }
};

void flops(benchmark::State& state) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_eigen_fp32(benchmark::State& state) {
  operands o;
  for (auto _ : state) {
    Eigen::Map<Eigen::Matrix<float, -1, -1, Eigen::RowMajor>> c(o.c.data(), m, n);
    c.noalias() = Eigen::Map<const Eigen::Matrix<float, -1, -1, Eigen::RowMajor>>(o.a.data(), m, k) *
                  Eigen::Map<const Eigen::Matrix<float, -1, -1, Eigen::RowMajor>>(o.b.data(), k, n);
    benchmark::DoNotOptimize(o.c.data());
  }
  flops(state);
}
BENCHMARK(BM_eigen_fp32)->Unit(benchmark::kMillisecond)->UseRealTime();

#if defined(ECGSSL_BENCH_HAVE_OPENBLAS)
void BM_openblas_fp32(benchmark::State& state) {
  operands o;
  openblas_set_num_threads(1);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, o.a.data(), k, o.b.data(), n, 0.0f, o.c.data(), n);
    benchmark::DoNotOptimize(o.c.data());
  }
  flops(state);
}
BENCHMARK(BM_openblas_fp32)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

#if defined(ECGSSL_WITH_ONEDNN)
// oneDNN's matmul through the library's adapter, operands already in the primitive's type.
void onednn_product(benchmark::State& state, dnnl_data_type_t type) {
  operands o;
  ecgssl::nn::detail::onednn_matmul engine(type);
  state.SetLabel(engine.kernel_for(m, n, k));
  std::vector<std::uint16_t> a_bits(o.a.size()), b_bits(o.b.size());
  for (std::size_t i = 0; i < o.a.size(); ++i) a_bits[i] = ecgssl::bf16_bits(o.a[i]);
  for (std::size_t i = 0; i < o.b.size(); ++i) b_bits[i] = ecgssl::bf16_bits(o.b[i]);
  const void* a = type == dnnl_bf16 ? static_cast<const void*>(a_bits.data()) : o.a.data();
  const void* b = type == dnnl_bf16 ? static_cast<const void*>(b_bits.data()) : o.b.data();
  if (!engine.run(m, n, k, a, b, o.c.data())) {
    state.SkipWithError("no oneDNN kernel but the reference one for this type on this CPU");
    return;
  }
  for (auto _ : state) engine.run(m, n, k, a, b, o.c.data());
  flops(state);
}
void BM_onednn_fp32(benchmark::State& state) { onednn_product(state, dnnl_f32); }
void BM_onednn_bf16(benchmark::State& state) { onednn_product(state, dnnl_bf16); }
BENCHMARK(BM_onednn_fp32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_onednn_bf16)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

// The library's product in bf16 mode, operand rounding included: what a layer pays.
void BM_library_bf16(benchmark::State& state) {
  operands o;
  state.SetLabel(ecgssl::nn::detail::bf16_product_kernels());
  const ecgssl::precision_scope bf16(ecgssl::precision::bf16);
  for (auto _ : state) {
    ecgssl::nn::detail::serial_gemm(ecgssl::as_matrix(o.c.data(), m, n), ecgssl::as_matrix(o.a.data(), m, k),
                                    ecgssl::as_matrix(o.b.data(), k, n), false);
    benchmark::DoNotOptimize(o.c.data());
  }
  flops(state);
}
BENCHMARK(BM_library_bf16)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

// CUDA backend vs its host twins: every implementation<Op, cuda> is run on random inputs and
// compared with implementation<Op, host> (the reference oracle, itself checked against PyTorch
// and finite differences in tests/nn). Tolerances are per op: float GEMMs reorder sums, so they
// are relative to the magnitude of the inputs; double is held much tighter.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/cuda_stream.cuh>
#include <ecgssl/cuda/device_buffer.cuh>
#include <ecgssl/cuda/linear_kernels.cuh>

namespace {

template <class T>
std::vector<T> random_values(std::size_t n, std::uint64_t stream, double scale = 1.0) {
  const ecgssl::random_stream rng(2024, stream);
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<T>((2.0 * rng.uniform(i) - 1.0) * scale);
  return v;
}

template <class T>
ecgssl::device_buffer<T> upload(const std::vector<T>& host) {
  return ecgssl::device_buffer<T>(std::span<const T>(host));
}

// max |a - b| / (abs_floor + max |b|): one relative tolerance per buffer.
template <class T>
double max_relative_difference(const std::vector<T>& device, const std::vector<T>& host) {
  REQUIRE(device.size() == host.size());
  double diff = 0;
  double mag = 1e-30;
  for (std::size_t i = 0; i < host.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(device[i]) - static_cast<double>(host[i])));
    mag = std::max(mag, std::abs(static_cast<double>(host[i])));
  }
  return diff / mag;
}

template <class T>
constexpr double gemm_tolerance() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

}  // namespace

TEST_SUITE("with_device") {

TEST_CASE("device_buffer round-trips host data and keeps its allocation when shrinking") {
  const auto host = random_values<float>(1000, 1);
  ecgssl::device_buffer<float> buffer{std::span<const float>(host)};
  CHECK(buffer.to_host() == host);
  const float* before = buffer.data();
  buffer.resize(10);
  CHECK(buffer.data() == before);
  CHECK(buffer.capacity() == 1000);
  buffer.zero();
  CHECK(buffer.to_host() == std::vector<float>(10, 0.f));
  ecgssl::device_buffer<float> moved(std::move(buffer));
  CHECK(buffer.data() == nullptr);
  CHECK(moved.size() == 10);
  std::vector<float> wrong(3);
  CHECK_THROWS_AS(moved.copy_to_host(std::span<float>(wrong)), ecgssl::shape_error);
}

TEST_CASE("work queued on a cuda_stream through the context is visible after synchronising") {
  ecgssl::cuda_stream stream;
  auto& context = ecgssl::cuda_context::current();
  context.set_stream(stream.get());
  const auto host = random_values<double>(257, 2);
  ecgssl::device_buffer<double> a{std::span<const double>(host)};
  ecgssl::device_buffer<double> b(host.size());
  b.copy_from(a);
  stream.synchronize();
  CHECK(b.to_host() == host);
  context.set_stream(nullptr);
}

TEST_CASE("an invalid CUDA call becomes a cuda_error naming the call, file and line") {
  const int line = __LINE__ + 2;
  try {
    ECGSSL_CUDA_CHECK(cudaMemcpy(nullptr, reinterpret_cast<void*>(16), 64, cudaMemcpyDeviceToDevice));
    FAIL("no exception");
  } catch (const ecgssl::cuda_error& e) {
    CHECK(e.where().line == line);
    CHECK(e.where().file.find("test_gpu_parity.cu") != std::string::npos);
    CHECK(e.where().field.find("cudaMemcpy") != std::string::npos);
  }
}

TEST_CASE_TEMPLATE("linear cuda matches the host twin", T, float, double) {
  using host_k = ecgssl::implementation<ecgssl::nn::detail::linear_op, ecgssl::host>;
  using cuda_k = ecgssl::implementation<ecgssl::nn::detail::linear_op, ecgssl::cuda>;
  const std::ptrdiff_t rows = 37, in = 29, out = 19;
  const auto x = random_values<T>(rows * in, 10);
  const auto w = random_values<T>(out * in, 11);
  const auto b = random_values<T>(out, 12);
  const auto dy = random_values<T>(rows * out, 13);
  // Non-zero starting gradients: both backends must ACCUMULATE into them.
  const auto dx0 = random_values<T>(rows * in, 14);
  const auto dw0 = random_values<T>(out * in, 15);
  const auto db0 = random_values<T>(out, 16);

  std::vector<T> y(rows * out), dx = dx0, dw = dw0, db = db0;
  host_k::forward(x.data(), w.data(), b.data(), y.data(), rows, in, out);
  host_k::backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), rows, in, out);

  auto dx_d = upload(x), dw_d = upload(w), db_d = upload(b), ddy = upload(dy);
  auto gx = upload(dx0), gw = upload(dw0), gb = upload(db0);
  ecgssl::device_buffer<T> y_d(rows * out);
  cuda_k::forward(dx_d.data(), dw_d.data(), db_d.data(), y_d.data(), rows, in, out);
  cuda_k::backward(dx_d.data(), dw_d.data(), ddy.data(), gx.data(), gw.data(), gb.data(), rows, in, out);
  CHECK(max_relative_difference(y_d.to_host(), y) < gemm_tolerance<T>());
  CHECK(max_relative_difference(gx.to_host(), dx) < gemm_tolerance<T>());
  CHECK(max_relative_difference(gw.to_host(), dw) < gemm_tolerance<T>());
  CHECK(max_relative_difference(gb.to_host(), db) < gemm_tolerance<T>());
}

}  // TEST_SUITE with_device

TEST_SUITE("without_device") {

TEST_CASE("allocating without a CUDA device throws cuda_error with the call site") {
  try {
    ecgssl::device_buffer<float> buffer(16);
    FAIL("allocation succeeded without a device");
  } catch (const ecgssl::cuda_error& e) {
    CHECK(e.kind() == "CUDA");
    CHECK(e.where().file.find("device_buffer.cuh") != std::string::npos);
    CHECK(e.where().line.has_value());
    CHECK(e.where().field.find("cudaMalloc") != std::string::npos);
    CHECK(std::string(e.what()).find("expected cudaSuccess") != std::string::npos);
  }
}

TEST_CASE("creating a cuBLAS handle without a device throws cuda_error") {
  CHECK_THROWS_AS(ecgssl::cuda_context::current().blas(), ecgssl::cuda_error);
}

}  // TEST_SUITE without_device

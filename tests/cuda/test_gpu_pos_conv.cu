// nn::pos_conv on the cuda backend (spec §3.6) vs the same layer on the host: identical
// parameters, forward, two backward passes into non-zero gradients, and every output, input
// gradient and parameter gradient compared (the pattern of check_layer in test_gpu_layers.cu).
// The host layer is the oracle (itself checked against PyTorch and finite differences in
// tests/nn/test_pos_conv.cpp). Also: the device kernels with the batch split into chunks of one
// sample (the path a large batch takes), and the zero-norm error on the device.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/device_buffer.cuh>
#include <ecgssl/cuda/device_parameters.cuh>
#include <ecgssl/cuda/device_tensor.cuh>
#include <ecgssl/cuda/pos_conv_kernels.cuh>
#include <ecgssl/nn/pos_conv.hpp>

#include "gpu_test_support.hpp"

namespace {

using ecgssl::device_tensor;
using ecgssl::tensor;

template <class T, std::size_t N>
tensor<T, N> random_tensor(const std::array<std::size_t, N>& shape, std::uint64_t stream) {
  return gpu_test::random_tensor<T, N>(78, shape, stream);
}

template <class T>
std::vector<T> random_vector(std::size_t n, std::uint64_t stream) {
  const ecgssl::random_stream rng(79, stream);
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<T>(rng.uniform(i) - 0.5);
  return v;
}

using gpu_test::relative_difference;

template <class T>
double scale_of(const std::vector<T>& v) {
  double s = 1e-30;
  for (const T x : v) s = std::max(s, std::abs(static_cast<double>(x)));
  return s;
}

template <class T>
void check_pos_conv(const ecgssl::nn::pos_conv_options& options, const std::array<std::size_t, 3>& x_shape,
                    double tolerance) {
  ecgssl::nn::pos_conv<T, ecgssl::host> h(options);
  ecgssl::nn::pos_conv<T, ecgssl::cuda> d(options);
  ecgssl::parameter_store<T> hs;
  ecgssl::parameter_store<T> ds;
  h.declare_parameters(hs, "layer.");
  d.declare_parameters(ds, "layer.");
  hs.allocate();
  ds.allocate();
  REQUIRE(hs.size() == ds.size());
  const ecgssl::random_stream rng(5, 9);
  for (std::size_t i = 0; i < hs.size(); ++i) hs.values()[i] = ds.values()[i] = static_cast<T>(rng.uniform(i) - 0.5);
  // device_parameters starts the device gradients at zero, as the host store's are; the two
  // backward passes exercise accumulation (the kernel-level case below starts from non-zero).
  ecgssl::device_parameters<T> mirror(ds);

  const auto x = random_tensor<T, 3>(x_shape, 1);
  tensor<T, 3> hy;
  h.forward(x, hy);
  const device_tensor<T, 3> dxin(x);
  device_tensor<T, 3> dy_out;
  d.forward(dxin, dy_out);
  {
    const auto back = dy_out.to_host();
    REQUIRE(back.shape() == hy.shape());
    INFO("forward output");
    CHECK(relative_difference(back.data(), hy.data(), hy.size()) <= tolerance);
  }

  const auto g = random_tensor<T, 3>(x_shape, 2);
  auto hdx = random_tensor<T, 3>(x_shape, 3);
  device_tensor<T, 3> ddx(hdx);
  const device_tensor<T, 3> dg(g);
  for (int pass = 0; pass < 2; ++pass) {
    h.backward(g, hdx);
    d.backward(dg, ddx);
  }
  {
    const auto back = ddx.to_host();
    INFO("input gradient (accumulated twice onto a non-zero start)");
    CHECK(relative_difference(back.data(), hdx.data(), hdx.size()) <= tolerance);
  }
  mirror.download_grads(ds);
  // Relative to the largest gradient of the layer (as check_layer does): entries whose exact
  // value is near zero only carry rounding noise.
  double layer_scale = 1e-30;
  for (std::size_t i = 0; i < hs.size(); ++i) layer_scale = std::max(layer_scale, std::abs(static_cast<double>(hs.grads()[i])));
  for (const auto& entry : hs.entries()) {
    INFO("parameter gradient " << entry.name);
    CHECK(relative_difference(ds.grads().data() + entry.offset, hs.grads().data() + entry.offset, entry.size,
                              layer_scale) <= tolerance);
  }
}

using gpu_test::tol;

}  // namespace

TEST_SUITE("with_device") {
  TEST_CASE_TEMPLATE("nn::pos_conv on cuda matches the host layer", T, float, double) {
    SUBCASE("dim 16, groups 4, kernel 8, time 11") {
      check_pos_conv<T>({.dim = 16, .kernel = 8, .groups = 4}, {2, 11, 16}, tol<T>(1e-4, 1e-10));
    }
    SUBCASE("kernel longer than the sequence") {
      check_pos_conv<T>({.dim = 12, .kernel = 10, .groups = 3}, {3, 4, 12}, tol<T>(1e-4, 1e-10));
    }
  }

  TEST_CASE("nn::pos_conv on cuda matches the host layer at the spec shape (dim 768, groups 16, kernel 128)") {
    check_pos_conv<float>({.dim = 768, .kernel = 128, .groups = 16}, {2, 40, 768}, 1e-4);
  }

  TEST_CASE_TEMPLATE("pos_conv cuda kernels with the batch in chunks of one sample match the host twin", T,
                     float, double) {
    using host_k = ecgssl::implementation<ecgssl::nn::detail::pos_conv_op, ecgssl::host>;
    using cuda_k = ecgssl::implementation<ecgssl::nn::detail::pos_conv_op, ecgssl::cuda>;
    const ecgssl::nn::detail::pos_conv_geometry geo{3, 9, 16, 4, 6};
    const std::size_t n = geo.batch * geo.time * geo.dim, weights = geo.dim * geo.per_group() * geo.kernel;
    const auto x = random_vector<T>(n, 1), v = random_vector<T>(weights, 2), gain = random_vector<T>(geo.kernel, 3),
               bias = random_vector<T>(geo.dim, 4), dy = random_vector<T>(n, 5), dx0 = random_vector<T>(n, 6),
               dv0 = random_vector<T>(weights, 7), dg0 = random_vector<T>(geo.kernel, 8),
               db0 = random_vector<T>(geo.dim, 9);
    host_k::workspace<T> hws;
    std::vector<T> y(n), dx = dx0, dv = dv0, dgain = dg0, db = db0;
    host_k::forward(geo, x.data(), v.data(), gain.data(), bias.data(), y.data(), hws);
    host_k::backward(geo, v.data(), gain.data(), dy.data(), dx.data(), dv.data(), dgain.data(), db.data(), hws);

    using buf = ecgssl::device_buffer<T>;
    auto up = [](const std::vector<T>& h) { return buf(std::span<const T>(h)); };
    buf dx_d = up(x), dv_d = up(v), dgain_d = up(gain), dbias_d = up(bias), ddy = up(dy);
    buf y_d(n);
    buf gx = up(dx0), gv = up(dv0), gg = up(dg0), gb = up(db0);
    cuda_k::workspace<T> ws;
    ws.max_elements = geo.time * geo.dim * geo.kernel;  // one sample per chunk
    cuda_k::forward(geo, dx_d.data(), dv_d.data(), dgain_d.data(), dbias_d.data(), y_d.data(), ws);
    cuda_k::backward(geo, dv_d.data(), dgain_d.data(), ddy.data(), gx.data(), gv.data(), gg.data(), gb.data(), ws);
    const double t = tol<T>(1e-4, 1e-10);
    CHECK(relative_difference(y_d.to_host().data(), y.data(), n) <= t);
    CHECK(relative_difference(gx.to_host().data(), dx.data(), n) <= t);
    CHECK(relative_difference(gv.to_host().data(), dv.data(), weights, scale_of(dv)) <= t);
    CHECK(relative_difference(gg.to_host().data(), dgain.data(), geo.kernel, scale_of(dgain)) <= t);
    CHECK(relative_difference(gb.to_host().data(), db.data(), geo.dim) <= t);
  }

  TEST_CASE("nn::pos_conv on cuda rejects a zero weight_v tap with a data_error") {
    ecgssl::parameter_store<float> store;
    ecgssl::nn::pos_conv<float, ecgssl::cuda> layer({.dim = 4, .kernel = 2, .groups = 2});
    layer.declare_parameters(store, "");
    store.allocate();  // all zero
    ecgssl::device_parameters<float> mirror(store);
    const device_tensor<float, 3> x(random_tensor<float, 3>({1, 3, 4}, 1));
    device_tensor<float, 3> y;
    CHECK_THROWS_AS(layer.forward(x, y), ecgssl::data_error);
  }
}

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

#include <thrust/execution_policy.h>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/attention_kernels.cuh>
#include <ecgssl/cuda/conv1d_kernels.cuh>
#include <ecgssl/cuda/cuda_stream.cuh>
#include <ecgssl/cuda/device_buffer.cuh>
#include <ecgssl/cuda/device_parameters.cuh>
#include <ecgssl/cuda/elementwise_kernels.cuh>
#include <ecgssl/cuda/flat_ops.cuh>
#include <ecgssl/cuda/flat_updates.cuh>
#include <ecgssl/cuda/linear_kernels.cuh>
#include <ecgssl/cuda/norm_kernels.cuh>
#include "attention_reference.hpp"

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

// Elementwise math with device erf/exp (a few ulp from glibc's).
template <class T>
constexpr double elementwise_tolerance() {
  return std::is_same_v<T, float> ? 1e-6 : 1e-14;
}

template <class T>
std::vector<T> download(const ecgssl::device_buffer<T>& b) {
  return b.to_host();
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
      ECGSSL_CUDA_CHECK(cudaSetDevice(1 << 20));  // invalid ordinal: a non-sticky error
      FAIL("no exception");
    } catch (const ecgssl::cuda_error& e) {
      CHECK(e.where().line == line);
      CHECK(e.where().file.find("test_gpu_parity.cu") != std::string::npos);
      CHECK(e.where().field.find("cudaSetDevice") != std::string::npos);
      CHECK(e.problem().find("cudaErrorInvalidDevice") != std::string::npos);
    }
    // The device is still usable afterwards.
    ecgssl::device_buffer<int> after(4);
    after.zero();
    CHECK(after.to_host() == std::vector<int>(4, 0));
  }

  TEST_CASE("device_parameters mirrors a parameter_store with the same offsets") {
    ecgssl::parameter_store<float> store;
    store.add("w", {2, 3});
    store.add("b", {3});
    store.allocate();
    for (std::size_t i = 0; i < store.size(); ++i) store.values()[i] = static_cast<float>(i + 1);
    store.grads()[0] = 9.f;
    ecgssl::device_parameters<float> device(store);
    REQUIRE(device.size() == 9);
    // b's device view starts where b starts in the flat buffer: scale only b by 10.
    ecgssl::flat_ops::scale(thrust::device, device.values("b"), 3, 10.f);
    device.download_values(store);
    CHECK(std::vector<float>(store.values().begin(), store.values().end()) ==
          std::vector<float>{1, 2, 3, 4, 5, 6, 70, 80, 90});
    device.download_grads(store);
    CHECK(std::vector<float>(store.grads().begin(), store.grads().end()) ==
          std::vector<float>(9, 0.f));
    CHECK_THROWS_AS((void)device.values("missing"), ecgssl::config_error);
    ecgssl::parameter_store<float> other;
    other.add("w", {4});
    other.allocate();
    CHECK_THROWS_AS(device.download_values(other), ecgssl::shape_error);
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
    cuda_k::backward(dx_d.data(), dw_d.data(), ddy.data(), gx.data(), gw.data(), gb.data(), rows,
                     in, out);
    CHECK(max_relative_difference(y_d.to_host(), y) < gemm_tolerance<T>());
    CHECK(max_relative_difference(gx.to_host(), dx) < gemm_tolerance<T>());
    CHECK(max_relative_difference(gw.to_host(), dw) < gemm_tolerance<T>());
    CHECK(max_relative_difference(gb.to_host(), db) < gemm_tolerance<T>());
  }

  TEST_CASE_TEMPLATE("gelu cuda matches the host twin and accumulates", T, float, double) {
    using host_k = ecgssl::implementation<ecgssl::nn::detail::gelu_op, ecgssl::host>;
    using cuda_k = ecgssl::implementation<ecgssl::nn::detail::gelu_op, ecgssl::cuda>;
    const std::size_t n = 100003;  // not a multiple of the block size
    const auto x = random_values<T>(n, 20, 6.0);
    const auto dy = random_values<T>(n, 21);
    const auto dx0 = random_values<T>(n, 22);
    std::vector<T> y(n), dx = dx0;
    host_k::forward(x.data(), y.data(), n);
    host_k::backward(x.data(), dy.data(), dx.data(), n);
    auto xd = upload(x), dyd = upload(dy), dxd = upload(dx0);
    ecgssl::device_buffer<T> yd(n);
    cuda_k::forward(xd.data(), yd.data(), n);
    cuda_k::backward(xd.data(), dyd.data(), dxd.data(), n);
    CHECK(max_relative_difference(download(yd), y) < elementwise_tolerance<T>());
    CHECK(max_relative_difference(download(dxd), dx) < elementwise_tolerance<T>());
  }

  TEST_CASE_TEMPLATE("dropout cuda draws the host's mask bit for bit", T, float, double) {
    using host_k = ecgssl::implementation<ecgssl::nn::detail::dropout_op, ecgssl::host>;
    using cuda_k = ecgssl::implementation<ecgssl::nn::detail::dropout_op, ecgssl::cuda>;
    const std::size_t n = 70001;
    const ecgssl::random_stream rng(7, ecgssl::stream_id({3, 41, 2}));
    const auto x = random_values<T>(n, 30);
    const auto dy = random_values<T>(n, 31);
    const auto dx0 = random_values<T>(n, 32);
    std::vector<T> scale(n), y(n), dx = dx0;
    host_k::draw_mask(rng, 0.1, scale.data(), n);
    host_k::apply(x.data(), scale.data(), y.data(), n);
    host_k::backward(dy.data(), scale.data(), dx.data(), n);
    ecgssl::device_buffer<T> sd(n), yd(n);
    auto xd = upload(x), dyd = upload(dy), dxd = upload(dx0);
    cuda_k::draw_mask(rng, 0.1, sd.data(), n);
    cuda_k::apply(xd.data(), sd.data(), yd.data(), n);
    cuda_k::backward(dyd.data(), sd.data(), dxd.data(), n);
    CHECK(download(sd) == scale);  // exact: same Philox draws, same comparison
    CHECK(download(yd) == y);
    CHECK(max_relative_difference(download(dxd), dx) < elementwise_tolerance<T>());
  }

  namespace {
  template <class T>
  void check_norm(const ecgssl::nn::detail::norm_geometry& g, bool affine) {
    using host_k = ecgssl::implementation<ecgssl::nn::detail::norm_op, ecgssl::host>;
    using cuda_k = ecgssl::implementation<ecgssl::nn::detail::norm_op, ecgssl::cuda>;
    const std::size_t n = g.rows * g.inner;
    // An offset and scale far from (0, 1) exercise the mean/variance path.
    auto x = random_values<T>(n, 40, 3.0);
    for (auto& v : x) v += T(5);
    const auto gamma = random_values<T>(g.features, 41);
    const auto beta = random_values<T>(g.features, 42);
    const auto dy = random_values<T>(n, 43);
    const auto dx0 = random_values<T>(n, 44);
    const auto dg0 = random_values<T>(g.features, 45);
    const auto db0 = random_values<T>(g.features, 46);
    const T* gp = affine ? gamma.data() : nullptr;
    const T* bp = affine ? beta.data() : nullptr;
    std::vector<T> y(n), mean(g.rows), rstd(g.rows), dx = dx0, dg = dg0, db = db0;
    host_k::forward(g, x.data(), gp, bp, y.data(), mean.data(), rstd.data(), 1e-5);
    host_k::backward(g, x.data(), gp, mean.data(), rstd.data(), dy.data(), dx.data(),
                     affine ? dg.data() : nullptr, affine ? db.data() : nullptr);

    auto xd = upload(x), gd = upload(gamma), bd = upload(beta), dyd = upload(dy), dxd = upload(dx0);
    auto dgd = upload(dg0), dbd = upload(db0);
    ecgssl::device_buffer<T> yd(n), md(g.rows), rd(g.rows);
    cuda_k::forward(g, xd.data(), affine ? gd.data() : nullptr, affine ? bd.data() : nullptr,
                    yd.data(), md.data(), rd.data(), 1e-5);
    cuda_k::backward(g, xd.data(), affine ? gd.data() : nullptr, md.data(), rd.data(), dyd.data(),
                     dxd.data(), affine ? dgd.data() : nullptr, affine ? dbd.data() : nullptr);
    const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-11;
    CHECK(max_relative_difference(download(md), mean) < tol);
    CHECK(max_relative_difference(download(rd), rstd) < tol);
    CHECK(max_relative_difference(download(yd), y) < tol);
    CHECK(max_relative_difference(download(dxd), dx) < tol);
    if (affine) {
      CHECK(max_relative_difference(download(dgd), dg) < tol);
      CHECK(max_relative_difference(download(dbd), db) < tol);
    } else {
      CHECK(download(dgd) == dg0);  // untouched
    }
  }
  }  // namespace

  TEST_CASE_TEMPLATE("layer_norm cuda matches the host twin", T, float, double) {
    // rows = batch * time, inner = features (768 > one block of threads)
    check_norm<T>({37, 768, 1, 1, 768}, true);
    check_norm<T>({5, 33, 1, 1, 33}, false);
  }

  TEST_CASE_TEMPLATE("group_norm cuda matches the host twin", T, float, double) {
    // x: [3, 12, 50], 4 groups: rows = 3*4, inner = 3*50, span = 50, features = 12
    check_norm<T>({12, 150, 4, 50, 12}, true);
    // one group per channel (the extractor's first layer): x: [2, 8, 300]
    check_norm<T>({16, 300, 8, 300, 8}, true);
  }

  namespace {
  template <class T>
  void check_conv(ecgssl::nn::detail::conv1d_geometry g, bool bias, std::size_t max_workspace) {
    using host_k = ecgssl::implementation<ecgssl::nn::detail::conv1d_op, ecgssl::host>;
    using cuda_k = ecgssl::implementation<ecgssl::nn::detail::conv1d_op, ecgssl::cuda>;
    g.out_length = (g.length + 2 * g.padding - g.dilation * (g.kernel - 1) - 1) / g.stride + 1;
    const std::size_t nx = g.batch * g.in_channels * g.length;
    const std::size_t nw = g.out_channels * g.in_per_group() * g.kernel;
    const std::size_t ny = g.batch * g.out_channels * g.out_length;
    const auto x = random_values<T>(nx, 50);
    const auto w = random_values<T>(nw, 51);
    const auto b = random_values<T>(g.out_channels, 52);
    const auto dy = random_values<T>(ny, 53);
    const auto dx0 = random_values<T>(nx, 54);
    const auto dw0 = random_values<T>(nw, 55);
    const auto db0 = random_values<T>(g.out_channels, 56);
    std::vector<T> y(ny), dx = dx0, dw = dw0, db = db0;
    typename host_k::template workspace<T> hws;
    host_k::forward(g, x.data(), w.data(), bias ? b.data() : nullptr, y.data(), hws);
    host_k::backward(g, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                     bias ? db.data() : nullptr, hws);

    typename cuda_k::template workspace<T> ws;
    ws.max_elements = max_workspace;
    auto xd = upload(x), wd = upload(w), bd = upload(b), dyd = upload(dy), dxd = upload(dx0),
         dwd = upload(dw0), dbd = upload(db0);
    ecgssl::device_buffer<T> yd(ny);
    cuda_k::forward(g, xd.data(), wd.data(), bias ? bd.data() : nullptr, yd.data(), ws);
    cuda_k::backward(g, xd.data(), wd.data(), dyd.data(), dxd.data(), dwd.data(),
                     bias ? dbd.data() : nullptr, ws);
    CHECK(max_relative_difference(download(yd), y) < gemm_tolerance<T>());
    CHECK(max_relative_difference(download(dxd), dx) < gemm_tolerance<T>());
    CHECK(max_relative_difference(download(dwd), dw) < gemm_tolerance<T>());
    CHECK(max_relative_difference(download(dbd), db) < gemm_tolerance<T>());
  }

  ecgssl::nn::detail::conv1d_geometry conv(std::size_t batch, std::size_t cin, std::size_t cout,
                                           std::size_t length, std::size_t kernel,
                                           std::size_t stride, std::size_t padding,
                                           std::size_t dilation, std::size_t groups) {
    ecgssl::nn::detail::conv1d_geometry g;
    g.batch = batch;
    g.in_channels = cin;
    g.out_channels = cout;
    g.length = length;
    g.kernel = kernel;
    g.stride = stride;
    g.padding = padding;
    g.dilation = dilation;
    g.groups = groups;
    return g;
  }
  }  // namespace

  TEST_CASE_TEMPLATE("conv1d cuda matches the host twin", T, float, double) {
    SUBCASE("extractor-like: kernel 10, stride 5") {
      check_conv<T>(conv(3, 12, 16, 250, 10, 5, 0, 1, 1), false, 1u << 25);
    }
    SUBCASE("padding, dilation, bias") {
      check_conv<T>(conv(2, 6, 4, 41, 3, 2, 3, 2, 1), true, 1u << 25);
    }
    SUBCASE("grouped like pos_conv, batch in chunks of one sample") {
      check_conv<T>(conv(3, 16, 16, 37, 8, 1, 4, 1, 4), true, 1);
    }
  }

  TEST_CASE_TEMPLATE("flat Adam and SGD updates on the GPU match the same functors run on the host",
                     T, float, double) {
    namespace fo = ecgssl::flat_ops;
    const std::size_t n = 5000;
    const auto p0 = random_values<T>(n, 60);
    auto pd = upload(p0);
    ecgssl::device_buffer<T> md(n), vd(n);
    md.zero();
    vd.zero();
    std::vector<T> p = p0, m(n, T(0)), v(n, T(0));
    for (auto form : {fo::adam_form::fairseq, fo::adam_form::pytorch, fo::adam_form::adamw}) {
      fo::adam_settings s;
      s.form = form;
      s.gradient_scale = 0.5;
      for (std::int64_t step = 1; step <= 3; ++step) {
        const auto g = random_values<T>(n, 61 + static_cast<std::uint64_t>(step));
        auto gd = upload(g);
        fo::adam_update(thrust::host, p.data(), g.data(), m.data(), v.data(), n, s, 1e-3, step);
        fo::adam_update(thrust::cuda::par.on(ecgssl::cuda_context::current().stream()), pd.data(),
                        gd.data(), md.data(), vd.data(), n, s, 1e-3, step);
      }
    }
    // Device sqrt/division are correctly rounded; contraction into FMA may differ by an ulp or so.
    const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
    CHECK(max_relative_difference(download(pd), p) < tol);
    CHECK(max_relative_difference(download(md), m) < tol);
    CHECK(max_relative_difference(download(vd), v) < tol);

    std::vector<T> b(n, T(0));
    ecgssl::device_buffer<T> bd(n);
    bd.zero();
    const fo::sgd_settings s{0.9, 0.1, 0.01, true, 1.0};
    for (std::int64_t step = 1; step <= 3; ++step) {
      const auto g = random_values<T>(n, 70 + static_cast<std::uint64_t>(step));
      auto gd = upload(g);
      fo::sgd_update(thrust::host, p.data(), g.data(), b.data(), n, s, 0.1, step);
      fo::sgd_update(pd.data(), gd.data(), bd.data(), n, s, 0.1, step);
    }
    CHECK(max_relative_difference(download(pd), p) < tol);
    CHECK(max_relative_difference(download(bd), b) < tol);
  }

  TEST_CASE("thrust flat_ops run on the device") {
    thrust::device_vector<float> g(std::vector<float>{3.f, 4.f});
    CHECK(ecgssl::flat_ops::clip_by_global_norm(g, 1.0) == doctest::Approx(5.0));
    CHECK(static_cast<float>(g[0]) == doctest::Approx(0.6f));
  }

  TEST_CASE("raw-pointer flat_ops on a device_buffer, on the context's stream") {
    ecgssl::cuda_stream stream;
    ecgssl::cuda_context::current().set_stream(stream.get());
    const auto policy = thrust::cuda::par.on(stream.get());
    const std::vector<double> host{3.0, 4.0, 12.0};
    auto g = upload(host);
    g.zero();
    ecgssl::device_buffer<double> x{std::span<const double>(host)};
    ecgssl::flat_ops::add_scaled(policy, static_cast<const double*>(x.data()), 1.0, g.data(),
                                 g.size());
    CHECK(ecgssl::flat_ops::clip_by_global_norm(policy, g.data(), g.size(), 1.3) ==
          doctest::Approx(13.0));
    const auto clipped = download(g);
    CHECK(clipped[2] == doctest::Approx(1.2).epsilon(1e-6));
    ecgssl::cuda_context::current().set_stream(nullptr);
  }

  namespace {
  template <class T>
  double max_relative_difference_to(const std::vector<T>& device, const std::vector<double>& ref,
                                    const std::vector<T>& start = {}) {
    std::vector<double> got(device.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      got[i] = double(device[i]) - (start.empty() ? 0.0 : double(start[i]));
    return max_relative_difference(got, ref);
  }
  }  // namespace

  TEST_CASE_TEMPLATE("attention core cuda matches a naive reference, with padding and dropout", T,
                     float, double) {
    using cuda_k = ecgssl::implementation<ecgssl::nn::detail::attention_core_op, ecgssl::cuda>;
    using drop_k = ecgssl::implementation<ecgssl::nn::detail::dropout_op, ecgssl::host>;
    const std::size_t B = 3, L = 150, D = 24, H = 4;  // L > the softmax block (128 threads)
    for (bool with_dropout : {false, true}) {
      CAPTURE(with_dropout);
      const auto q = random_values<T>(B * L * D, 80, 2.0);
      const auto k = random_values<T>(B * L * D, 81, 2.0);
      const auto v = random_values<T>(B * L * D, 82);
      const auto dctx = random_values<T>(B * L * D, 83);
      std::vector<std::uint8_t> pad(B * L, 0);
      for (std::size_t j = L - 5; j < L; ++j) pad[1 * L + j] = 1;  // sample 1: last 5 keys padded
      std::vector<T> drop(B * H * L * L, T(1));
      if (with_dropout)
        drop_k::draw_mask(ecgssl::random_stream(5, 6), 0.2, drop.data(), drop.size());
      const auto ref = ecgssl_test::naive_attention(B, L, D, H, q, k, v, pad, drop, dctx);

      const ecgssl::cuda_detail::attention_geometry g{B, L, D, H};
      typename cuda_k::template workspace<T> ws;
      auto qd = upload(q), kd = upload(k), vd = upload(v), dcd = upload(dctx), dropd = upload(drop);
      ecgssl::device_buffer<std::uint8_t> padd{std::span<const std::uint8_t>(pad)};
      ecgssl::device_buffer<T> probs(g.probs_size()), ctx(B * L * D);
      // Gradients start non-zero: the op accumulates.
      const auto g0 = random_values<T>(B * L * D, 84);
      auto dq = upload(g0), dk = upload(g0), dv = upload(g0);
      const T* drop_ptr = with_dropout ? dropd.data() : nullptr;
      cuda_k::forward(g, qd.data(), kd.data(), vd.data(), padd.data(), drop_ptr, probs.data(),
                      ctx.data(), ws);
      cuda_k::backward(g, qd.data(), kd.data(), vd.data(), probs.data(), drop_ptr, dcd.data(),
                       dq.data(), dk.data(), dv.data(), ws);
      const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
      CHECK(max_relative_difference_to(download(probs), ref.probs) < tol);
      CHECK(max_relative_difference_to(download(ctx), ref.ctx) < tol);
      CHECK(max_relative_difference_to(download(dq), ref.dq, g0) < tol);
      CHECK(max_relative_difference_to(download(dk), ref.dk, g0) < tol);
      CHECK(max_relative_difference_to(download(dv), ref.dv, g0) < tol);
      // Padded keys get exactly zero probability.
      const auto p = download(probs);
      CHECK(p[((1 * H + 2) * L + 3) * L + (L - 1)] == T(0));
    }
  }

}  // TEST_SUITE with_device

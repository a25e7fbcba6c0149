// The nn layers on the cuda backend vs the same layers on the host: `nn::<layer><T, cuda>` takes
// and returns device_tensor, reads its parameters from the store's device mirror
// (device_parameters) and accumulates their gradients there. Each case builds the host and the
// cuda layer with identical parameters, runs forward and two backward passes (so accumulation
// into non-zero input and parameter gradients is exercised) and compares the output, the input
// gradient and every parameter gradient. The host layers are the oracle (themselves checked
// against PyTorch and finite differences in tests/nn). Tolerances are per op, relative to the
// largest magnitude of the host buffer, as in test_gpu_parity.cu.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/attention_kernels.cuh>
#include <ecgssl/cuda/bce_with_logits.cuh>
#include <ecgssl/cuda/conv1d_kernels.cuh>
#include <ecgssl/cuda/device_parameters.cuh>
#include <ecgssl/cuda/device_tensor.cuh>
#include <ecgssl/cuda/elementwise_kernels.cuh>
#include <ecgssl/cuda/linear_kernels.cuh>
#include <ecgssl/cuda/norm_kernels.cuh>
#include <ecgssl/nn/conv1d.hpp>
#include <ecgssl/nn/dropout.hpp>
#include <ecgssl/nn/gelu.hpp>
#include <ecgssl/nn/grad_scale.hpp>
#include <ecgssl/nn/group_norm.hpp>
#include <ecgssl/nn/layer_norm.hpp>
#include <ecgssl/nn/linear.hpp>
#include <ecgssl/nn/multi_head_attention.hpp>
#include <ecgssl/nn/repeat.hpp>
#include <ecgssl/nn/residual.hpp>
#include <ecgssl/nn/sequential.hpp>
#include <ecgssl/nn/transformer_layer.hpp>

#include "gpu_test_support.hpp"

namespace {

using ecgssl::device_tensor;
using ecgssl::tensor;

template <class T, std::size_t N>
tensor<T, N> random_tensor(const std::array<std::size_t, N>& shape, std::uint64_t stream, double scale = 1.0) {
  return gpu_test::random_tensor<T, N>(77, shape, stream, scale);
}
using gpu_test::relative_difference;
using gpu_test::tol;

template <class T, std::size_t N>
void check_close(const device_tensor<T, N>& device, const tensor<T, N>& host, double tolerance,
                 const char* what) {
  const auto back = device.to_host();
  REQUIRE(std::equal(back.shape().begin(), back.shape().end(), host.shape().begin()));
  INFO(what);
  CHECK(relative_difference(back.data(), host.data(), host.size()) <= tolerance);
}

// Identical parameters on both backends: declared under the same prefix, initialised, then
// overwritten with the same random values (so norms' gamma/beta are not the trivial 1/0).
template <class HostLayer, class DeviceLayer, class T>
void declare_same(HostLayer& h, DeviceLayer& d, ecgssl::parameter_store<T>& hs,
                  ecgssl::parameter_store<T>& ds) {
  h.declare_parameters(hs, "layer.");
  d.declare_parameters(ds, "layer.");
  hs.allocate();
  ds.allocate();
  REQUIRE(hs.size() == ds.size());
  const ecgssl::random_stream rng(5, 9);
  for (std::size_t i = 0; i < hs.size(); ++i) {
    hs.values()[i] = ds.values()[i] = static_cast<T>(rng.uniform(i) - 0.5);
  }
}

// Forward, then backward twice from the same dy into an input gradient that starts non-zero;
// compares y, dx and all parameter gradients.
template <class T, std::size_t In, std::size_t Out, class HostLayer, class DeviceLayer>
void check_layer(HostLayer& h, DeviceLayer& d, const std::array<std::size_t, In>& x_shape,
                 double tolerance, double backward_tolerance = -1) {
  if (backward_tolerance < 0) backward_tolerance = tolerance;
  ecgssl::parameter_store<T> hs;
  ecgssl::parameter_store<T> ds;
  declare_same(h, d, hs, ds);
  ecgssl::device_parameters<T> mirror(ds);

  const auto x = random_tensor<T, In>(x_shape, 1);
  tensor<T, Out> hy;
  h.forward(x, hy);
  const device_tensor<T, In> dx_in(x);
  device_tensor<T, Out> dy_out;
  d.forward(dx_in, dy_out);
  check_close(dy_out, hy, tolerance, "forward output");

  std::array<std::size_t, Out> y_shape{};
  std::copy(hy.shape().begin(), hy.shape().end(), y_shape.begin());
  const auto g = random_tensor<T, Out>(y_shape, 2);
  auto hdx = random_tensor<T, In>(x_shape, 3);
  device_tensor<T, In> ddx(hdx);
  const device_tensor<T, Out> dg(g);
  for (int pass = 0; pass < 2; ++pass) {
    h.backward(g, hdx);
    d.backward(dg, ddx);
  }
  check_close(ddx, hdx, backward_tolerance, "input gradient (accumulated twice onto a non-zero start)");

  mirror.download_grads(ds);
  // Some gradients are exactly zero in exact arithmetic, e.g. attention's key bias (adding a
  // constant to every key shifts all of a query's scores equally, which softmax ignores): both
  // backends then hold rounding noise, whose relative difference means nothing. So each entry
  // is compared relative to at least the largest gradient of the whole layer.
  double layer_scale = 1e-30;
  for (std::size_t i = 0; i < hs.size(); ++i) {
    layer_scale = std::max(layer_scale, std::abs(static_cast<double>(hs.grads()[i])));
  }
  for (const auto& entry : hs.entries()) {
    INFO("parameter gradient " << entry.name);
    CHECK(relative_difference(ds.grads().data() + entry.offset, hs.grads().data() + entry.offset,
                              entry.size, layer_scale) <= backward_tolerance);
  }
}

}  // namespace

TEST_SUITE("with_device") {
  TEST_CASE_TEMPLATE("device_tensor round-trips a host tensor and keeps its storage", T, float,
                     double) {
    const auto x = random_tensor<T, 3>({2, 3, 5}, 4);
    device_tensor<T, 3> d(x);
    CHECK(d.shape() == std::array<std::size_t, 3>{2, 3, 5});
    const auto back = d.to_host();
    CHECK(std::equal(back.begin(), back.end(), x.begin()));
    const T* before = d.data();
    d.ensure_shape(std::array<std::size_t, 3>{1, 3, 5});
    CHECK(d.data() == before);
    CHECK(d.size() == 15);
    device_tensor<T, 3> e;
    e.copy_from(device_tensor<T, 3>(x));
    e.accumulate(device_tensor<T, 3>(x));
    const auto twice = e.to_host();
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(twice.data()[i] == x.data()[i] * T(2));
    CHECK_THROWS_AS(e.accumulate(d), ecgssl::shape_error);
  }

  TEST_CASE_TEMPLATE("nn::linear on cuda matches the host layer", T, float, double) {
    SUBCASE("rank 3 with bias") {
      ecgssl::nn::linear<T, ecgssl::host, 3> h(12, 7);
      ecgssl::nn::linear<T, ecgssl::cuda, 3> d(12, 7);
      check_layer<T, 3, 3>(h, d, {3, 5, 12}, tol<T>(1e-5, 1e-12));
    }
    SUBCASE("rank 2 without bias") {
      ecgssl::nn::linear<T, ecgssl::host, 2> h(9, 4, false);
      ecgssl::nn::linear<T, ecgssl::cuda, 2> d(9, 4, false);
      check_layer<T, 2, 2>(h, d, {6, 9}, tol<T>(1e-5, 1e-12));
    }
  }

  TEST_CASE_TEMPLATE("nn::layer_norm on cuda matches the host layer", T, float, double) {
    ecgssl::nn::layer_norm<T, ecgssl::host, 3> h(24, 1e-5);
    ecgssl::nn::layer_norm<T, ecgssl::cuda, 3> d(24, 1e-5);
    check_layer<T, 3, 3>(h, d, {2, 7, 24}, tol<T>(2e-5, 1e-11));
  }

  TEST_CASE_TEMPLATE("nn::group_norm on cuda matches the host layer", T, float, double) {
    SUBCASE("one group per channel (the extractor's first block)") {
      ecgssl::nn::group_norm<T, ecgssl::host> h(6, 6);
      ecgssl::nn::group_norm<T, ecgssl::cuda> d(6, 6);
      check_layer<T, 3, 3>(h, d, {2, 6, 40}, tol<T>(2e-5, 1e-11));
    }
    SUBCASE("two channels per group") {
      ecgssl::nn::group_norm<T, ecgssl::host> h(3, 6);
      ecgssl::nn::group_norm<T, ecgssl::cuda> d(3, 6);
      check_layer<T, 3, 3>(h, d, {3, 6, 17}, tol<T>(2e-5, 1e-11));
    }
  }

  TEST_CASE_TEMPLATE("nn::gelu on cuda matches the host layer", T, float, double) {
    ecgssl::nn::gelu<T, ecgssl::host, 3> h;
    ecgssl::nn::gelu<T, ecgssl::cuda, 3> d;
    check_layer<T, 3, 3>(h, d, {2, 9, 31}, tol<T>(1e-6, 1e-14));
  }

  TEST_CASE_TEMPLATE("nn::conv1d on cuda matches the host layer", T, float, double) {
    SUBCASE("extractor-like: kernel 10, stride 5, no bias") {
      ecgssl::nn::conv1d_options o{12, 8, 10, 5, 0, 1, 1, false};
      ecgssl::nn::conv1d<T, ecgssl::host> h(o);
      ecgssl::nn::conv1d<T, ecgssl::cuda> d(o);
      check_layer<T, 3, 3>(h, d, {2, 12, 103}, tol<T>(1e-5, 1e-12));
    }
    SUBCASE("grouped, padded, dilated, with bias") {
      ecgssl::nn::conv1d_options o{8, 8, 5, 1, 4, 2, 4, true};
      ecgssl::nn::conv1d<T, ecgssl::host> h(o);
      ecgssl::nn::conv1d<T, ecgssl::cuda> d(o);
      check_layer<T, 3, 3>(h, d, {3, 8, 29}, tol<T>(1e-5, 1e-12));
    }
  }

  TEST_CASE_TEMPLATE("nn::dropout on cuda keeps exactly the host's elements", T, float, double) {
    const ecgssl::random_stream rng(11, ecgssl::stream_id({3, 1, 4}));
    SUBCASE("training: the Philox mask is bit-identical") {
      ecgssl::nn::dropout<T, ecgssl::host, 3> h(0.3);
      ecgssl::nn::dropout<T, ecgssl::cuda, 3> d(0.3);
      h.set_random_stream(rng);
      d.set_random_stream(rng);
      // Forward is x * scale on both: exactly equal. Backward may fuse the multiply-add.
      check_layer<T, 3, 3>(h, d, {4, 5, 50}, 0.0, tol<T>(1e-6, 1e-15));
    }
    SUBCASE("an injected keep mask (a host tensor) on the device") {
      ecgssl::nn::dropout<T, ecgssl::host, 3> h(0.5);
      ecgssl::nn::dropout<T, ecgssl::cuda, 3> d(0.5);
      auto keep = random_tensor<T, 3>({2, 3, 4}, 8);
      for (auto& k : keep) k = k > T(0) ? T(1) : T(0);
      h.set_mask(keep);
      d.set_mask(keep);
      check_layer<T, 3, 3>(h, d, {2, 3, 4}, 0.0, tol<T>(1e-6, 1e-15));
    }
    SUBCASE("evaluation: identity forward, gradient passed through") {
      ecgssl::nn::dropout<T, ecgssl::host, 3> h(0.3);
      ecgssl::nn::dropout<T, ecgssl::cuda, 3> d(0.3);
      h.set_training(false);
      d.set_training(false);
      check_layer<T, 3, 3>(h, d, {2, 3, 7}, 0.0);
    }
  }

  TEST_CASE_TEMPLATE("nn::multi_head_attention on cuda matches the host layer", T, float, double) {
    const ecgssl::nn::attention_options o{16, 4, 0.25, false};
    ecgssl::nn::multi_head_attention<T, ecgssl::host> h(o);
    ecgssl::nn::multi_head_attention<T, ecgssl::cuda> d(o);
    SUBCASE("evaluation") {
      h.set_training(false);
      d.set_training(false);
      check_layer<T, 3, 3>(h, d, {2, 7, 16}, tol<T>(5e-5, 1e-11));
    }
    SUBCASE("training: the probability dropout mask is the host's") {
      const ecgssl::random_stream rng(3, ecgssl::stream_id({7, 2}));
      h.set_random_stream(rng);
      d.set_random_stream(rng);
      check_layer<T, 3, 3>(h, d, {3, 9, 16}, tol<T>(5e-5, 1e-11));
    }
    SUBCASE("key padding mask, evaluation") {
      tensor<std::uint8_t, 2> pad({2, 6});
      pad.fill(0);
      pad(0, 5) = 1;
      pad(1, 0) = pad(1, 3) = 1;
      h.set_key_padding_mask(pad);
      d.set_key_padding_mask(pad);
      h.set_training(false);
      d.set_training(false);
      check_layer<T, 3, 3>(h, d, {2, 6, 16}, tol<T>(5e-5, 1e-11));
    }
  }

  TEST_CASE("multi_head_attention on cuda refuses the legacy batch-axis layout") {
    ecgssl::parameter_store<float> store;
    ecgssl::nn::multi_head_attention<float, ecgssl::cuda> d({8, 2, 0.0, true});
    d.declare_parameters(store, "attn.");
    store.allocate();
    ecgssl::device_parameters<float> mirror(store);
    const device_tensor<float, 3> x(random_tensor<float, 3>({2, 3, 8}, 1));
    device_tensor<float, 3> y;
    CHECK_THROWS_WITH_AS(d.forward(x, y), doctest::Contains("legacy_batch_axis"), ecgssl::config_error);
  }

  TEST_CASE_TEMPLATE("nn::transformer_layer on cuda matches the host layer with dropout at every site",
                     T, float, double) {
    ecgssl::nn::transformer_layer_options o;
    o.dim = 16;
    o.heads = 2;
    o.ffn_dim = 40;
    o.dropout = 0.1;
    o.attention_dropout = 0.2;
    o.activation_dropout = 0.15;
    SUBCASE("post-LN (the paper's)") { o.layer_norm_first = false; }
    SUBCASE("pre-LN") { o.layer_norm_first = true; }
    ecgssl::nn::transformer_layer<T, ecgssl::host> h(o);
    ecgssl::nn::transformer_layer<T, ecgssl::cuda> d(o);
    const ecgssl::random_stream rng(19, ecgssl::stream_id({4, 0, 3}));
    h.set_random_stream(rng);
    d.set_random_stream(rng);
    check_layer<T, 3, 3>(h, d, {2, 11, 16}, tol<T>(1e-4, 1e-10));
  }

  TEST_CASE_TEMPLATE("containers on cuda: sequential of a residual FFN, grad_scale and layer_norm", T,
                     float, double) {
    auto make = []<class B>() {
      namespace nn = ecgssl::nn;
      using ffn = nn::sequential<nn::linear<T, B>, nn::gelu<T, B>, nn::linear<T, B>>;
      using stack = nn::sequential<nn::residual<ffn>, nn::grad_scale<T, B>, nn::layer_norm<T, B>>;
      return stack(nn::residual<ffn>(ffn(nn::linear<T, B>(10, 24), nn::gelu<T, B>(), nn::linear<T, B>(24, 10))),
                   nn::grad_scale<T, B>(0.1), nn::layer_norm<T, B>(10));
    };
    auto h = make.template operator()<ecgssl::host>();
    auto d = make.template operator()<ecgssl::cuda>();
    check_layer<T, 3, 3>(h, d, {3, 8, 10}, tol<T>(2e-5, 1e-11));
  }

  TEST_CASE_TEMPLATE("repeat of transformer layers on cuda matches the host", T, float, double) {
    ecgssl::nn::transformer_layer_options o;
    o.dim = 8;
    o.heads = 2;
    o.ffn_dim = 16;
    o.dropout = o.attention_dropout = 0.1;
    auto factory = [&]<class B>() {
      return [o](std::size_t) { return ecgssl::nn::transformer_layer<T, B>(o); };
    };
    ecgssl::nn::repeat<ecgssl::nn::transformer_layer<T, ecgssl::host>> h(
        3, factory.template operator()<ecgssl::host>());
    ecgssl::nn::repeat<ecgssl::nn::transformer_layer<T, ecgssl::cuda>> d(
        3, factory.template operator()<ecgssl::cuda>());
    const ecgssl::random_stream rng(23, 5);
    h.set_random_stream(rng);
    d.set_random_stream(rng);
    check_layer<T, 3, 3>(h, d, {2, 5, 8}, tol<T>(1e-4, 1e-10));
  }

  TEST_CASE_TEMPLATE("bce_with_logits on cuda matches the host loss", T, float, double) {
    const auto x = random_tensor<T, 2>({6, 9}, 21, 12.0);
    auto y = random_tensor<T, 2>({6, 9}, 22);
    for (auto& v : y) v = v > T(0.4) ? T(1) : T(0);
    for (const auto norm : {ecgssl::bce_normalization::positive_labels, ecgssl::bce_normalization::mean,
                            ecgssl::bce_normalization::sum}) {
      ecgssl::bce_with_logits<T, ecgssl::host> h(norm);
      ecgssl::bce_with_logits<T, ecgssl::cuda> d(norm);
      h.set_targets(y);
      d.set_targets(y);
      const T hl = h.forward(x);
      const device_tensor<T, 2> dx(x);
      const T dl = d.forward(dx);
      CHECK(d.positive_labels() == h.positive_labels());
      CHECK(d.denominator() == h.denominator());
      CHECK(std::abs(static_cast<double>(dl) - hl) <= tol<T>(1e-6, 1e-13) * std::abs(static_cast<double>(hl)));
      auto hg = random_tensor<T, 2>({6, 9}, 23);
      device_tensor<T, 2> dg(hg);
      h.backward(T(0.75), hg);
      d.backward(T(0.75), dg);
      check_close(dg, hg, tol<T>(1e-6, 1e-14), "bce gradient");
    }
    ecgssl::bce_with_logits<T, ecgssl::cuda> d;
    d.set_targets(y);
    auto bad = x;
    bad(2, 3) = std::numeric_limits<T>::quiet_NaN();
    CHECK_THROWS_WITH_AS(d.forward(device_tensor<T, 2>(bad)), doctest::Contains("flat index 21"),
                         ecgssl::data_error);
  }

  TEST_CASE("a cuda layer without a device mirror of its store is a config_error") {
    ecgssl::parameter_store<float> store;
    ecgssl::nn::linear<float, ecgssl::cuda, 2> d(3, 2);
    d.declare_parameters(store, "head.");
    store.allocate();
    const device_tensor<float, 2> x(random_tensor<float, 2>({4, 3}, 1));
    device_tensor<float, 2> y;
    CHECK_THROWS_AS(d.forward(x, y), ecgssl::config_error);
    {
      ecgssl::device_parameters<float> mirror(store);
      CHECK_NOTHROW(d.forward(x, y));
    }
    // The mirror unregisters itself when destroyed.
    CHECK(store.device_values() == nullptr);
    CHECK_THROWS_AS(d.forward(x, y), ecgssl::config_error);
  }
}  // TEST_SUITE with_device

TEST_SUITE("without_device") {
  TEST_CASE("a device_tensor without a CUDA device throws cuda_error from its allocation") {
    CHECK_THROWS_AS((device_tensor<float, 3>(std::array<std::size_t, 3>{1, 2, 3})),
                    ecgssl::cuda_error);
  }
}  // TEST_SUITE without_device

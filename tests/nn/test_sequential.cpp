// nn::sequential: contract, parameter names, finite differences through a conv block, gradient
// stopping at grad_scale(0), stream propagation, parity with two wav2vec2 extractor blocks, and
// no heap allocation in a second training step.
#if defined(__GNUC__) && !defined(__clang__)
// The counting operator new below pairs malloc/free itself; GCC cannot see that across inlining.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/nn/conv1d.hpp>
#include <ecgssl/nn/dropout.hpp>
#include <ecgssl/nn/gelu.hpp>
#include <ecgssl/nn/grad_scale.hpp>
#include <ecgssl/nn/group_norm.hpp>
#include <ecgssl/nn/layer_norm.hpp>
#include <ecgssl/nn/linear.hpp>
#include <ecgssl/nn/sequential.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "nn_test_support.hpp"

// Counts heap allocations of the whole test program (replaces the global operator new), so a
// test can prove that a second forward/backward step allocates nothing.
namespace {
std::atomic<long> allocations{0};
}
void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace nn = ecgssl::nn;
template <class T>
using block0 = nn::sequential<nn::conv1d<T>, nn::dropout<T>, nn::group_norm<T>, nn::gelu<T>>;
template <class T>
using block1 = nn::sequential<nn::conv1d<T>, nn::dropout<T>, nn::gelu<T>>;
template <class T>
using extractor = nn::sequential<block0<T>, block1<T>>;
static_assert(ecgssl::layer<block0<float>>);
static_assert(ecgssl::layer<extractor<double>>);
static_assert(std::is_same_v<extractor<float>::output_type, ecgssl::tensor<float, 3>>);

template <class T>
extractor<T> make_extractor(std::size_t in, std::size_t channels) {
  return extractor<T>(
      block0<T>(nn::conv1d<T>(nn::conv1d_options{in, channels, 2, 2, 0, 1, 1, false}), nn::dropout<T>(0.0),
                nn::group_norm<T>(channels, channels), nn::gelu<T>()),
      block1<T>(nn::conv1d<T>(nn::conv1d_options{channels, channels, 2, 2, 0, 1, 1, false}),
                nn::dropout<T>(0.0), nn::gelu<T>()));
}

TEST_CASE("sequential names children like torch.nn.Sequential and checks gradients") {
  ecgssl::parameter_store<double> store;
  auto ext = make_extractor<double>(3, 4);
  ext.declare_parameters(store, "feature_extractor.conv_layers.");
  store.allocate();
  std::vector<std::string> names;
  for (const auto& e : store.entries()) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"feature_extractor.conv_layers.0.0.weight",
                                          "feature_extractor.conv_layers.0.2.weight",
                                          "feature_extractor.conv_layers.0.2.bias",
                                          "feature_extractor.conv_layers.1.0.weight"});
  ext.initialize(ecgssl::random_stream(1, 2));
  CHECK(ext.get<0>().get<2>().weight().value()[0] == 1.0);  // norm gamma = 1
  nn_test::randomize(store, 8, 0.5, 1.5);
  auto x = nn_test::random_tensor<double, 3>({2, 3, 12}, 91);
  nn_test::require_gradients(ecgssl::testing::check_layer(ext, store, x));
}

TEST_CASE("sequential with custom names and a grad_scale stops or scales the gradient") {
  using chain = nn::sequential<nn::linear<double>, nn::grad_scale<double>, nn::linear<double>>;
  auto run = [](double factor, std::vector<double>& first_grad, ecgssl::tensor<double, 3>& dx) {
    ecgssl::parameter_store<double> store;
    chain c(nn::linear<double>(3, 4), nn::grad_scale<double>(factor), nn::linear<double>(4, 2));
    c.set_names({"post_extract_proj", "", "final_proj"});
    c.declare_parameters(store, "");
    store.allocate();
    CHECK(store.find("post_extract_proj.weight") != nullptr);
    CHECK(store.find("final_proj.bias") != nullptr);
    nn_test::randomize(store, 9);
    CHECK(c.propagates_gradient() == (factor != 0.0));
    auto x = nn_test::random_tensor<double, 3>({2, 2, 3}, 92);
    ecgssl::tensor<double, 3> y;
    c.forward(x, y);
    dx = xt::ones<double>(x.shape());
    c.backward(xt::ones<double>(y.shape()), dx);
    auto g = store.grads("post_extract_proj.weight");
    first_grad.assign(g.begin(), g.end());
    CHECK(store.grads("final_proj.weight")[0] != 0.0);
  };
  std::vector<double> g1, g_half, g0;
  ecgssl::tensor<double, 3> dx1, dx_half, dx0;
  run(1.0, g1, dx1);
  run(0.5, g_half, dx_half);
  run(0.0, g0, dx0);
  for (std::size_t i = 0; i < g1.size(); ++i) {
    CHECK(g_half[i] == doctest::Approx(0.5 * g1[i]).epsilon(1e-12));
    CHECK(g0[i] == 0.0);
  }
  CHECK(dx0 == xt::ones<double>(dx0.shape()));  // untouched: the first linear never ran backward
  CHECK((dx_half(0, 0, 0) - 1.0) == doctest::Approx(0.5 * (dx1(0, 0, 0) - 1.0)).epsilon(1e-12));
}

TEST_CASE("sequential gives each child its own random stream") {
  nn::sequential<nn::dropout<float, ecgssl::host, 1>, nn::dropout<float, ecgssl::host, 1>> c(
      nn::dropout<float, ecgssl::host, 1>(0.5), nn::dropout<float, ecgssl::host, 1>(0.5));
  c.set_random_stream(ecgssl::random_stream(3, 4));
  ecgssl::tensor<float, 1> x = xt::ones<float>({4096});
  ecgssl::tensor<float, 1> a, b;
  c.get<0>().forward(x, a);
  c.get<1>().forward(x, b);
  CHECK(a != b);
  c.set_training(false);
  c.forward(x, a);
  CHECK(a == x);
}

TEST_CASE("sequential extractor blocks match wav2vec2's conv_layers in PyTorch (float)") {
  ecgssl::parameter_store<float> store;
  auto ext = make_extractor<float>(3, 8);
  ext.declare_parameters(store, "conv_layers.");
  store.allocate();
  const char* params[] = {"conv_layers.0.0.weight", "conv_layers.0.2.weight", "conv_layers.0.2.bias",
                          "conv_layers.1.0.weight"};
  auto file = [](std::string name) {
    for (auto& ch : name) ch = ch == '.' ? '_' : ch;
    return name;
  };
  for (const char* p : params) nn_test::load_parameter(store, p, "extractor/" + file(p));
  auto x = nn_test::load<float, 3>("extractor/x");
  auto dy = nn_test::load<float, 3>("extractor/dy");
  ecgssl::tensor<float, 3> y;
  ext.forward(x, y);
  nn_test::require_close(y, "extractor/y", 1e-5);
  ecgssl::tensor<float, 3> dx = xt::zeros<float>(x.shape());
  ext.backward(dy, dx);
  nn_test::require_close(dx, "extractor/dx", 1e-4);
  for (const char* p : params) nn_test::require_close(store.grads(p), "extractor/d" + file(p), 1e-4);
}

TEST_CASE("a second training step through the layers allocates no heap memory") {
  using encoder_like = nn::sequential<nn::linear<float>, nn::layer_norm<float>, nn::gelu<float>,
                                      nn::dropout<float>, nn::linear<float>, nn::grad_scale<float>>;
  ecgssl::parameter_store<float> store;
  auto ext = make_extractor<float>(12, 16);
  encoder_like enc(nn::linear<float>(16, 32), nn::layer_norm<float>(32, 1e-6), nn::gelu<float>(),
                   nn::dropout<float>(0.1), nn::linear<float>(32, 16), nn::grad_scale<float>(0.1));
  ext.declare_parameters(store, "ext.");
  enc.declare_parameters(store, "enc.");
  store.allocate();
  ext.initialize(ecgssl::random_stream(1, 1));
  enc.initialize(ecgssl::random_stream(1, 2));
  // Small shapes, so Eigen's GEMM blocking stays on the stack (its own heap use for large
  // products is outside this library's control).
  auto x = nn_test::random_tensor<float, 3>({2, 12, 64}, 93);
  ecgssl::tensor<float, 3> features, dfeatures, xt_in, y, dx, dxt;
  auto step = [&](std::uint64_t n) {
    ext.set_random_stream(ecgssl::random_stream(1, n));
    enc.set_random_stream(ecgssl::random_stream(2, n));
    ext.forward(x, features);
    // [batch, channels, time] -> [batch, time, channels] as the model does before the encoder
    nn::detail::ensure_shape(xt_in, std::array<std::size_t, 3>{2, features.shape()[2], features.shape()[1]});
    for (std::size_t b = 0; b < 2; ++b)
      for (std::size_t c = 0; c < features.shape()[1]; ++c)
        for (std::size_t t = 0; t < features.shape()[2]; ++t) xt_in(b, t, c) = features(b, c, t);
    enc.forward(xt_in, y);
    nn::detail::zero_like(dxt, xt_in.shape());
    enc.backward(y, dxt);
    nn::detail::zero_like(dfeatures, features.shape());
    for (std::size_t b = 0; b < 2; ++b)
      for (std::size_t c = 0; c < features.shape()[1]; ++c)
        for (std::size_t t = 0; t < features.shape()[2]; ++t) dfeatures(b, c, t) = dxt(b, t, c);
    nn::detail::zero_like(dx, x.shape());
    ext.backward(dfeatures, dx);
  };
  const long start = allocations.load();
  step(0);
  CHECK(allocations.load() - start > 0);  // the counter works: the first step sizes the caches
  const long before = allocations.load();
  step(1);
  CHECK(allocations.load() - before == 0);
  CHECK(store.grads("ext.0.0.weight")[0] != 0.0f);
}

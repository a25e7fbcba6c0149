// nn::conv1d: contract, a hand-worked convolution, finite differences over kernel/stride/
// padding/dilation/groups, initialisation, errors, external weights, PyTorch parity.
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/nn/conv1d.hpp>

#include <doctest/doctest.h>

#include <cmath>

#include "nn_test_support.hpp"

using ecgssl::nn::conv1d;
using ecgssl::nn::conv1d_options;
static_assert(ecgssl::layer<conv1d<float>>);
static_assert(ecgssl::layer<conv1d<double>>);

TEST_CASE("conv1d computes a padded, strided correlation by hand") {
  ecgssl::parameter_store<double> store;
  conv1d<double> conv(conv1d_options{1, 1, 3, 2, 1, 1, 1, true});
  conv.declare_parameters(store, "feature_extractor.conv_layers.0.0.");
  store.allocate();
  CHECK(store.find("feature_extractor.conv_layers.0.0.weight")->shape == std::vector<std::size_t>{1, 1, 3});
  const double w[] = {1, 10, 100};
  std::copy(w, w + 3, conv.weight().value().begin());
  conv.bias().value()[0] = 0.5;
  ecgssl::tensor<double, 3> x = {{{1, 2, 3, 4, 5}}};
  ecgssl::tensor<double, 3> y;
  conv.forward(x, y);
  // Padded input [0 1 2 3 4 5 0], windows at 0, 2, 4: [0 1 2] [2 3 4] [4 5 0].
  REQUIRE(y.shape()[2] == 3);
  CHECK(y(0, 0, 0) == 0 + 10 + 200 + 0.5);
  CHECK(y(0, 0, 1) == 2 + 30 + 400 + 0.5);
  CHECK(y(0, 0, 2) == 4 + 50 + 0 + 0.5);
  // dx for dy = [1, 0, 0]: x[0] gets 10, x[1] gets 100; accumulates onto 1.
  ecgssl::tensor<double, 3> dy = {{{1, 0, 0}}};
  ecgssl::tensor<double, 3> dx = xt::ones<double>({1, 1, 5});
  conv.backward(dy, dx);
  CHECK(dx(0, 0, 0) == 11.0);
  CHECK(dx(0, 0, 1) == 101.0);
  CHECK(dx(0, 0, 2) == 1.0);
  CHECK(conv.bias().grad()[0] == 1.0);
  CHECK(conv.weight().grad()[2] == 2.0);  // tap 2 of window 0 read x[1] = 2
}

TEST_CASE("conv1d gradients match finite differences across configurations") {
  struct config {
    conv1d_options o;
    std::size_t length;
  };
  const config configs[] = {
      {{4, 6, 2, 2, 0, 1, 1, false}, 9},   // the extractor shape: k = s, odd length drops a sample
      {{4, 6, 3, 1, 1, 1, 1, true}, 7},    // same padding
      {{4, 6, 3, 2, 2, 2, 2, true}, 11},   // dilation and groups
      {{6, 6, 4, 1, 2, 1, 3, true}, 5},    // even kernel, groups, padding = kernel / 2 (pos conv)
      {{2, 3, 5, 3, 4, 1, 1, true}, 4},    // padding wider than the input
  };
  for (const auto& c : configs) {
    ecgssl::parameter_store<double> store;
    conv1d<double> conv(c.o);
    conv.declare_parameters(store, "");
    store.allocate();
    nn_test::randomize(store, 7);
    auto x = nn_test::random_tensor<double, 3>({2, c.o.in_channels, c.length}, 71);
    INFO("kernel ", c.o.kernel, " stride ", c.o.stride, " padding ", c.o.padding, " groups ", c.o.groups);
    nn_test::require_gradients(ecgssl::testing::check_layer(conv, store, x));
  }
}

TEST_CASE("conv1d kaiming-normal initialisation has std sqrt(2 / fan_in)") {
  ecgssl::parameter_store<double> store;
  conv1d<double> conv(conv1d_options{256, 256, 2, 2, 0, 1, 1, false});
  conv.declare_parameters(store, "");
  store.allocate();
  conv.initialize(ecgssl::random_stream(3, 3));
  double sq = 0, mean = 0;
  for (double v : conv.weight().value()) sq += v * v, mean += v;
  const auto n = static_cast<double>(conv.weight().value().size());
  CHECK(std::abs(mean / n) < 2e-3);
  CHECK(std::sqrt(sq / n) == doctest::Approx(std::sqrt(2.0 / 512.0)).epsilon(0.01));
}

TEST_CASE("conv1d rejects bad configurations and too-short inputs") {
  CHECK_THROWS_AS(conv1d<float>(conv1d_options{6, 4, 3, 1, 0, 1, 4}), ecgssl::config_error);
  CHECK_THROWS_AS(conv1d<float>(conv1d_options{4, 4, 0}), ecgssl::config_error);
  ecgssl::parameter_store<float> store;
  conv1d<float> conv(2, 3, 4, 1);
  conv.declare_parameters(store, "c.");
  store.allocate();
  ecgssl::tensor<float, 3> y;
  ecgssl::tensor<float, 3> short_x = xt::zeros<float>({1, 2, 3});
  CHECK_THROWS_AS(conv.forward(short_x, y), ecgssl::shape_error);
  ecgssl::tensor<float, 3> wrong_channels = xt::zeros<float>({1, 3, 8});
  CHECK_THROWS_AS(conv.forward(wrong_channels, y), ecgssl::shape_error);
}

TEST_CASE("conv1d with an external weight uses the bound buffers") {
  ecgssl::parameter_store<double> store;
  conv1d_options o{3, 4, 3, 1, 1, 1, 1, true};
  o.external_weight = true;
  conv1d<double> conv(o);
  conv.declare_parameters(store, "pos_conv.0.");
  store.allocate();
  CHECK(store.find("pos_conv.0.weight") == nullptr);
  auto x = nn_test::random_tensor<double, 3>({2, 3, 6}, 81);
  ecgssl::tensor<double, 3> y;
  CHECK_THROWS_AS(conv.forward(x, y), ecgssl::config_error);
  // The same weights declared normally give the same output and gradient.
  std::vector<double> w(conv.weight_size()), dw(conv.weight_size(), 0.0);
  const ecgssl::random_stream rng(4, 4);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = rng.uniform(i) - 0.5;
  conv.bind_weight(w, dw);
  conv.forward(x, y);
  ecgssl::parameter_store<double> store2;
  conv1d<double> plain(conv1d_options{3, 4, 3, 1, 1, 1, 1, true});
  plain.declare_parameters(store2, "");
  store2.allocate();
  std::copy(w.begin(), w.end(), plain.weight().value().begin());
  ecgssl::tensor<double, 3> y2;
  plain.forward(x, y2);
  CHECK(y == y2);
  ecgssl::tensor<double, 3> dx = xt::zeros<double>(x.shape());
  ecgssl::tensor<double, 3> dx2 = xt::zeros<double>(x.shape());
  conv.backward(y, dx);
  plain.backward(y, dx2);
  CHECK(dx == dx2);
  CHECK(std::equal(dw.begin(), dw.end(), plain.weight().grad().begin()));
}

TEST_CASE("conv1d matches torch.nn.Conv1d (float)") {
  struct config {
    const char* name;
    conv1d_options o;
  };
  const config configs[] = {
      {"conv1d_extractor", {12, 16, 2, 2, 0, 1, 1, false}},
      {"conv1d_general", {6, 4, 3, 2, 2, 2, 2, true}},
      {"conv1d_grouped", {8, 8, 4, 1, 2, 1, 4, true}},
  };
  for (const auto& c : configs) {
    const std::string n = c.name;
    ecgssl::parameter_store<float> store;
    conv1d<float> conv(c.o);
    conv.declare_parameters(store, "");
    store.allocate();
    nn_test::load_parameter(store, "weight", n + "/weight");
    if (c.o.bias) nn_test::load_parameter(store, "bias", n + "/bias");
    auto x = nn_test::load<float, 3>(n + "/x");
    auto dy = nn_test::load<float, 3>(n + "/dy");
    ecgssl::tensor<float, 3> y;
    conv.forward(x, y);
    nn_test::require_close(y, n + "/y", 1e-5);
    ecgssl::tensor<float, 3> dx = xt::zeros<float>(x.shape());
    conv.backward(dy, dx);
    nn_test::require_close(dx, n + "/dx", 1e-4);
    nn_test::require_close(conv.weight().grad(), n + "/dweight", 1e-4);
    if (c.o.bias) nn_test::require_close(conv.bias().grad(), n + "/dbias", 1e-4);
  }
}

TEST_CASE("conv1d results do not depend on the thread count, and dx can be skipped") {
  // Large enough that every loop runs in parallel: 6 samples, 3 groups, pos-conv-like kernel.
  auto x = nn_test::random_tensor<float, 3>({6, 12, 40}, 82);
  nn_test::require_thread_independent([] { return conv1d<float>(conv1d_options{12, 12, 8, 1, 4, 1, 3, true}); }, x);
  nn_test::require_thread_independent([] { return conv1d<float>(conv1d_options{12, 16, 2, 2, 0, 1, 1, false}); }, x);
  ecgssl::parameter_store<float> store;
  conv1d<float> conv(conv1d_options{12, 4, 2, 2, 0, 1, 1, false});
  conv.declare_parameters(store, "");
  store.allocate();
  nn_test::randomize(store, 3);
  conv.set_input_gradient(false);
  ecgssl::tensor<float, 3> y;
  conv.forward(x, y);
  ecgssl::tensor<float, 3> dx = xt::zeros<float>(x.shape());
  conv.backward(y, dx);
  CHECK(dx == xt::zeros<float>(x.shape()));
  CHECK(conv.weight().grad()[0] != 0.0f);
}

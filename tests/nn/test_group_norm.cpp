// nn::group_norm over [batch, channels, time]: contract, hand values, finite differences and
// parity with torch.nn.GroupNorm (4 groups of 2 channels; groups == channels as in spec 3.3).
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/nn/group_norm.hpp>

#include <doctest/doctest.h>

#include <cmath>

#include "nn_test_support.hpp"

using ecgssl::nn::group_norm;
static_assert(ecgssl::layer<group_norm<float>>);
static_assert(ecgssl::layer<group_norm<double>>);

TEST_CASE("group_norm with one channel per group normalises each channel over time") {
  ecgssl::parameter_store<double> store;
  group_norm<double> gn(2, 2);
  gn.declare_parameters(store, "conv_layers.0.2.");
  store.allocate();
  gn.initialize(ecgssl::random_stream(0, 0));
  CHECK(store.find("conv_layers.0.2.weight")->shape == std::vector<std::size_t>{2});
  gn.bias().value()[1] = 0.5;
  gn.weight().value()[1] = 2.0;
  ecgssl::tensor<double, 3> x = {{{1, 3}, {0, 4}}};  // [1, 2, 2]
  ecgssl::tensor<double, 3> y;
  gn.forward(x, y);
  // Channel 0: mean 2, var 1 -> +-1/sqrt(1+eps); channel 1: mean 2, var 4 -> +-2/sqrt(4+eps)*2+0.5.
  CHECK(y(0, 0, 0) == doctest::Approx(-1.0 / std::sqrt(1.0 + 1e-5)).epsilon(1e-12));
  CHECK(y(0, 1, 1) == doctest::Approx(2.0 * 2.0 / std::sqrt(4.0 + 1e-5) + 0.5).epsilon(1e-12));
}

TEST_CASE("group_norm gradients match finite differences") {
  for (std::size_t groups : {1u, 2u, 6u}) {
    ecgssl::parameter_store<double> store;
    group_norm<double> gn(groups, 6);
    gn.declare_parameters(store, "");
    store.allocate();
    nn_test::randomize(store, 6, 0.5, 1.5);
    auto x = nn_test::random_tensor<double, 3>({2, 6, 5}, 61, -2.0, 2.0);
    nn_test::require_gradients(ecgssl::testing::check_layer(gn, store, x));
  }
}

TEST_CASE("group_norm rejects groups that do not divide the channels, and bad input shapes") {
  CHECK_THROWS_AS(group_norm<float>(3, 8), ecgssl::config_error);
  CHECK_THROWS_AS(group_norm<float>(0, 8), ecgssl::config_error);
  group_norm<float> gn(2, 4);
  ecgssl::parameter_store<float> store;
  gn.declare_parameters(store, "gn.");
  store.allocate();
  ecgssl::tensor<float, 3> x = xt::zeros<float>({1, 3, 5});
  ecgssl::tensor<float, 3> y;
  CHECK_THROWS_AS(gn.forward(x, y), ecgssl::shape_error);
}

TEST_CASE("group_norm matches torch.nn.GroupNorm (float)") {
  for (auto [name, groups] : {std::pair{"group_norm", 4}, std::pair{"group_norm_per_channel", 8}}) {
    const std::string c = name;
    ecgssl::parameter_store<float> store;
    group_norm<float> gn(static_cast<std::size_t>(groups), 8);
    gn.declare_parameters(store, "");
    store.allocate();
    nn_test::load_parameter(store, "weight", c + "/weight");
    nn_test::load_parameter(store, "bias", c + "/bias");
    auto x = nn_test::load<float, 3>(c + "/x");
    auto dy = nn_test::load<float, 3>(c + "/dy");
    ecgssl::tensor<float, 3> y;
    gn.forward(x, y);
    nn_test::require_close(y, c + "/y", 1e-5);
    ecgssl::tensor<float, 3> dx = xt::zeros<float>(x.shape());
    gn.backward(dy, dx);
    nn_test::require_close(dx, c + "/dx", 1e-4);
    nn_test::require_close(gn.weight().grad(), c + "/dweight", 1e-4);
    nn_test::require_close(gn.bias().grad(), c + "/dbias", 1e-4);
  }
}

TEST_CASE("group_norm results do not depend on the thread count") {
  auto x = nn_test::random_tensor<float, 3>({4, 16, 300}, 62);
  nn_test::require_thread_independent([] { return group_norm<float>(16, 16); }, x);
  nn_test::require_thread_independent([] { return group_norm<float>(4, 16); }, x);
}

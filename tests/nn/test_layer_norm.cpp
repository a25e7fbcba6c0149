// nn::layer_norm: contract, hand-computed values, finite differences, parity with
// torch.nn.LayerNorm at eps 1e-6 and 1e-5.
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/nn/layer_norm.hpp>

#include <doctest/doctest.h>

#include <cmath>

#include "nn_test_support.hpp"

using ecgssl::nn::layer_norm;
static_assert(ecgssl::layer<layer_norm<float>>);
static_assert(ecgssl::layer<layer_norm<double, ecgssl::host, 2>>);

TEST_CASE("layer_norm normalises each row to zero mean and unit biased variance") {
  ecgssl::parameter_store<double> store;
  layer_norm<double, ecgssl::host, 2> ln(4, 1e-5);
  ln.declare_parameters(store, "layer_norm.");
  store.allocate();
  ln.initialize(ecgssl::random_stream(0, 0));
  CHECK(store.find("layer_norm.weight") != nullptr);
  CHECK(store.find("layer_norm.bias") != nullptr);
  CHECK(ln.weight().value()[2] == 1.0);
  CHECK(ln.bias().value()[2] == 0.0);
  ecgssl::tensor<double, 2> x = {{1, 2, 3, 6}, {5, 5, 5, 5}};
  ecgssl::tensor<double, 2> y;
  ln.forward(x, y);
  // Row 0: mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5.
  const double s = 1.0 / std::sqrt(3.5 + 1e-5);
  CHECK(y(0, 0) == doctest::Approx(-2 * s).epsilon(1e-12));
  CHECK(y(0, 3) == doctest::Approx(3 * s).epsilon(1e-12));
  // A constant row becomes 0 (beta), not NaN: eps keeps the division finite.
  CHECK(y(1, 1) == 0.0);
}

TEST_CASE("layer_norm gradients match finite differences") {
  for (double eps : {1e-5, 1e-6}) {
    ecgssl::parameter_store<double> store;
    layer_norm<double> ln(7, eps);
    ln.declare_parameters(store, "");
    store.allocate();
    nn_test::randomize(store, 5, 0.5, 1.5);
    auto x = nn_test::random_tensor<double, 3>({2, 3, 7}, 21, -2.0, 2.0);
    nn_test::require_gradients(ecgssl::testing::check_layer(ln, store, x));
  }
  ecgssl::parameter_store<double> store;
  layer_norm<double, ecgssl::host, 2> plain(5, 1e-5, false);
  plain.declare_parameters(store, "");
  store.allocate();
  CHECK(store.entries().empty());
  auto x = nn_test::random_tensor<double, 2>({4, 5}, 22);
  nn_test::require_gradients(ecgssl::testing::check_layer(plain, store, x));
}

TEST_CASE("layer_norm rejects bad configuration and shapes") {
  CHECK_THROWS_AS(layer_norm<float>(0), ecgssl::config_error);
  CHECK_THROWS_AS(layer_norm<float>(4, 0.0), ecgssl::config_error);
  ecgssl::parameter_store<float> store;
  layer_norm<float> ln(4);
  ln.declare_parameters(store, "ln.");
  store.allocate();
  ecgssl::tensor<float, 3> x = xt::zeros<float>({1, 2, 3});
  ecgssl::tensor<float, 3> y;
  CHECK_THROWS_AS(ln.forward(x, y), ecgssl::shape_error);
}

TEST_CASE("layer_norm matches torch.nn.LayerNorm (float, eps 1e-6 and 1e-5)") {
  for (auto [name, eps] : {std::pair{"layer_norm", 1e-6}, std::pair{"layer_norm_eps5", 1e-5}}) {
    const std::string c = name;
    ecgssl::parameter_store<float> store;
    layer_norm<float> ln(8, eps);
    ln.declare_parameters(store, "");
    store.allocate();
    nn_test::load_parameter(store, "weight", c + "/weight");
    nn_test::load_parameter(store, "bias", c + "/bias");
    auto x = nn_test::load<float, 3>(c + "/x");
    auto dy = nn_test::load<float, 3>(c + "/dy");
    ecgssl::tensor<float, 3> y;
    ln.forward(x, y);
    nn_test::require_close(y, c + "/y", 1e-5);
    ecgssl::tensor<float, 3> dx = xt::zeros<float>(x.shape());
    ln.backward(dy, dx);
    nn_test::require_close(dx, c + "/dx", 1e-4);
    nn_test::require_close(ln.weight().grad(), c + "/dweight", 1e-4);
    nn_test::require_close(ln.bias().grad(), c + "/dbias", 1e-4);
  }
}

TEST_CASE("layer_norm results do not depend on the thread count") {
  auto x = nn_test::random_tensor<float, 3>({4, 30, 200}, 23);
  nn_test::require_thread_independent([] { return layer_norm<float>(200, 1e-6); }, x);
}

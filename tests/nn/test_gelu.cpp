// nn::gelu (exact erf form): contract, values from the normal CDF, finite differences, parity.
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/nn/gelu.hpp>

#include <doctest/doctest.h>

#include <cmath>

#include "nn_test_support.hpp"

using ecgssl::nn::gelu;
static_assert(ecgssl::layer<gelu<float>>);
static_assert(ecgssl::layer<gelu<double, ecgssl::host, 1>>);

TEST_CASE("gelu is x times the standard normal CDF") {
  gelu<double, ecgssl::host, 1> g;
  ecgssl::tensor<double, 1> x = {-1.0, 0.0, 1.0, 2.0};
  ecgssl::tensor<double, 1> y;
  g.forward(x, y);
  // Phi(1) = 0.8413447460685429, Phi(2) = 0.9772498680518208 (tables of the normal CDF).
  CHECK(y(0) == doctest::Approx(-1.0 * (1.0 - 0.8413447460685429)).epsilon(1e-14));
  CHECK(y(1) == 0.0);
  CHECK(y(2) == doctest::Approx(0.8413447460685429).epsilon(1e-14));
  CHECK(y(3) == doctest::Approx(2.0 * 0.9772498680518208).epsilon(1e-14));
  // d/dx at 0 is Phi(0) = 1/2; backward accumulates.
  ecgssl::tensor<double, 1> dy = {0.0, 2.0, 0.0, 0.0};
  ecgssl::tensor<double, 1> dx = {1.0, 1.0, 1.0, 1.0};
  g.backward(dy, dx);
  CHECK(dx(1) == doctest::Approx(2.0));
  CHECK(dx(0) == 1.0);
}

TEST_CASE("gelu gradient matches finite differences") {
  ecgssl::parameter_store<double> store;
  gelu<double> g;
  g.declare_parameters(store, "");
  store.allocate();
  auto x = nn_test::random_tensor<double, 3>({2, 3, 9}, 31, -4.0, 4.0);
  nn_test::require_gradients(ecgssl::testing::check_layer(g, store, x));
}

TEST_CASE("gelu matches torch (float, custom contiguous-gradient GELU in the fixture script)") {
  gelu<float> g;
  auto x = nn_test::load<float, 3>("gelu/x");
  auto dy = nn_test::load<float, 3>("gelu/dy");
  ecgssl::tensor<float, 3> y;
  g.forward(x, y);
  nn_test::require_close(y, "gelu/y", 1e-5);
  ecgssl::tensor<float, 3> dx = xt::zeros<float>(x.shape());
  g.backward(dy, dx);
  nn_test::require_close(dx, "gelu/dx", 1e-4);
}

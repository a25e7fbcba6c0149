// nn::grad_scale (fairseq GradMultiply): identity forward, scaled gradient, frozen at 0.
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/nn/grad_scale.hpp>

#include <doctest/doctest.h>

#include "nn_test_support.hpp"

using ecgssl::nn::grad_scale;
static_assert(ecgssl::layer<grad_scale<float>>);
static_assert(ecgssl::layer<grad_scale<double, ecgssl::host, 2>>);

TEST_CASE("grad_scale is the identity forward and multiplies the gradient by its factor") {
  grad_scale<double, ecgssl::host, 1> g(0.1);
  ecgssl::tensor<double, 1> x = {1.0, -2.0, 3.0};
  ecgssl::tensor<double, 1> y;
  g.forward(x, y);
  CHECK(y == x);
  ecgssl::tensor<double, 1> dy = {10.0, 20.0, -30.0};
  ecgssl::tensor<double, 1> dx = {1.0, 1.0, 1.0};
  g.backward(dy, dx);
  CHECK(dx(0) == doctest::Approx(2.0));
  CHECK(dx(1) == doctest::Approx(3.0));
  CHECK(dx(2) == doctest::Approx(-2.0));
  CHECK(g.propagates_gradient());
}

TEST_CASE("grad_scale with factor 0 leaves the input gradient untouched") {
  grad_scale<double, ecgssl::host, 1> g(0.0);
  CHECK_FALSE(g.propagates_gradient());
  ecgssl::tensor<double, 1> x = {1.0, 2.0};
  ecgssl::tensor<double, 1> y;
  g.forward(x, y);
  ecgssl::tensor<double, 1> wrong_shape = {1.0, 2.0, 3.0};  // not even read
  ecgssl::tensor<double, 1> dx = {5.0, 6.0};
  g.backward(wrong_shape, dx);
  CHECK(dx(0) == 5.0);
  CHECK(dx(1) == 6.0);
  CHECK_THROWS_AS(grad_scale<float>(-1.0), ecgssl::config_error);
}

TEST_CASE("grad_scale gradient equals factor times the finite-difference gradient of identity") {
  // The checker differentiates the forward (identity), so it would see factor 1: checking the
  // factor-1 layer proves the plumbing, the hand test above proves the factor.
  ecgssl::parameter_store<double> store;
  grad_scale<double> g(1.0);
  g.declare_parameters(store, "");
  store.allocate();
  auto x = nn_test::random_tensor<double, 3>({2, 2, 3}, 51);
  nn_test::require_gradients(ecgssl::testing::check_layer(g, store, x));
}

TEST_CASE("grad_scale matches fairseq's GradMultiply in PyTorch (float)") {
  grad_scale<float> g(0.1);
  auto x = nn_test::load<float, 3>("grad_scale/x");
  auto dy = nn_test::load<float, 3>("grad_scale/dy");
  ecgssl::tensor<float, 3> y;
  g.forward(x, y);
  nn_test::require_close(y, "grad_scale/y", 1e-7);
  ecgssl::tensor<float, 3> dx = xt::zeros<float>(x.shape());
  g.backward(dy, dx);
  nn_test::require_close(dx, "grad_scale/dx", 1e-6);
}

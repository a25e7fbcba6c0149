// nn::residual: y = x + inner(x), its gradient, and the prefix passing through unchanged.
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/nn/gelu.hpp>
#include <ecgssl/nn/linear.hpp>
#include <ecgssl/nn/residual.hpp>
#include <ecgssl/nn/sequential.hpp>

#include <doctest/doctest.h>

#include "nn_test_support.hpp"

namespace nn = ecgssl::nn;
static_assert(ecgssl::layer<nn::residual<nn::linear<float>>>);
static_assert(ecgssl::layer<nn::residual<nn::gelu<double>>>);

TEST_CASE("residual adds its input to the inner output, forward and backward") {
  ecgssl::parameter_store<double> store;
  nn::residual<nn::linear<double, ecgssl::host, 2>> r(nn::linear<double, ecgssl::host, 2>(2, 2, false));
  r.declare_parameters(store, "proj.");
  store.allocate();
  CHECK(store.find("proj.weight") != nullptr);
  const double w[] = {2, 0, 0, 3};  // diag(2, 3)
  std::copy(w, w + 4, r.inner().weight().value().begin());
  ecgssl::tensor<double, 2> x = {{1, 1}};
  ecgssl::tensor<double, 2> y;
  r.forward(x, y);
  CHECK(y(0, 0) == 3.0);  // 1 + 2
  CHECK(y(0, 1) == 4.0);  // 1 + 3
  ecgssl::tensor<double, 2> dy = {{1, 1}};
  ecgssl::tensor<double, 2> dx = {{10, 10}};
  r.backward(dy, dx);
  CHECK(dx(0, 0) == 13.0);  // 10 + 1 + 2
  CHECK(dx(0, 1) == 14.0);  // 10 + 1 + 3
}

TEST_CASE("residual gradients match finite differences") {
  ecgssl::parameter_store<double> store;
  using ffn = nn::sequential<nn::linear<double>, nn::gelu<double>, nn::linear<double>>;
  nn::residual<ffn> r(ffn(nn::linear<double>(4, 7), nn::gelu<double>(), nn::linear<double>(7, 4)));
  r.declare_parameters(store, "");
  store.allocate();
  nn_test::randomize(store, 10);
  auto x = nn_test::random_tensor<double, 3>({2, 3, 4}, 101);
  nn_test::require_gradients(ecgssl::testing::check_layer(r, store, x));
}

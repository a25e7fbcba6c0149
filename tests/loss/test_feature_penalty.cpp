#include <ecgssl/core/concepts.hpp>
#include <ecgssl/loss/feature_penalty.hpp>

#include <doctest/doctest.h>

#include "loss_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

static_assert(loss_function<feature_penalty<float>>);
static_assert(loss_function<feature_penalty<double>>);

TEST_CASE("feature_penalty is the mean of squares, matching PyTorch") {
  feature_penalty<double> loss;
  tensor<double, 3> z = {{{1.0, -2.0}, {3.0, 0.0}}};
  CHECK(loss.forward(z) == doctest::Approx(14.0 / 4.0));
  const auto zf = load_tensor<double, 3>("penalty_z");
  CHECK(relative(loss.forward(zf), load_scalar("penalty_loss")) < 1e-14);
  tensor<double, 3> grad = xt::zeros<double>(zf.shape());
  loss.backward(1.0, grad);
  CHECK(scaled_difference(grad, load_tensor<double, 3>("penalty_grad")) < 1e-14);
}

TEST_CASE("feature_penalty gradient matches finite differences") {
  auto z = load_tensor<double, 3>("penalty_z");
  feature_penalty<double> loss;
  loss.forward(z);
  tensor<double, 3> grad = xt::ones<double>(z.shape());  // accumulates onto existing values
  loss.backward(3.0, grad);
  grad -= 1.0;
  auto f = [&] { return 3.0 * loss.forward(z); };
  CHECK(check_gradient(as_span(z), as_span(std::as_const(grad)), f, "z").max_relative_error < 1e-6);
}

TEST_CASE("feature_penalty of a large float tensor is summed deterministically in double") {
  tensor<float, 3> z = xt::full_like(tensor<float, 3>::from_shape({4, 256, 156}), 0.5f);
  feature_penalty<float> loss;
  CHECK(loss.forward(z) == 0.25f);
}

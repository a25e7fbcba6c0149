// nn::linear: contract, hand-computed values, finite-difference gradients, initialisation
// statistics, errors, and parity with torch.nn.Linear (tools/make_nn_fixtures.py).
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/nn/linear.hpp>

#include <doctest/doctest.h>

#include <cmath>

#include "nn_test_support.hpp"

using ecgssl::nn::linear;
static_assert(ecgssl::layer<linear<float>>);
static_assert(ecgssl::layer<linear<double>>);
static_assert(ecgssl::layer<linear<double, ecgssl::host, 2>>);

TEST_CASE("linear computes x W^T + b on a hand-worked example") {
  ecgssl::parameter_store<double> store;
  linear<double, ecgssl::host, 2> fc(2, 3);
  fc.declare_parameters(store, "proj.");
  store.allocate();
  CHECK(store.find("proj.weight")->shape == std::vector<std::size_t>{3, 2});
  CHECK(store.find("proj.bias")->shape == std::vector<std::size_t>{3});
  const double w[] = {1, 2, 3, 4, 5, 6};
  std::copy(w, w + 6, fc.weight().value().begin());
  const double b[] = {0.5, -1, 2};
  std::copy(b, b + 3, fc.bias().value().begin());
  ecgssl::tensor<double, 2> x = {{1, -1}, {2, 0.5}};
  ecgssl::tensor<double, 2> y;
  fc.forward(x, y);
  // Row 0: [1-2, 3-4, 5-6] + b = [-0.5, -2, 1]; row 1: [2+1, 6+2, 10+3] + b = [3.5, 7, 15].
  ecgssl::tensor<double, 2> expected = {{-0.5, -2, 1}, {3.5, 7, 15}};
  CHECK(y == expected);
  // Backward with dy = ones accumulates onto existing dx values.
  ecgssl::tensor<double, 2> dy = xt::ones<double>({2, 3});
  ecgssl::tensor<double, 2> dx = xt::ones<double>({2, 2});
  fc.backward(dy, dx);
  ecgssl::tensor<double, 2> expected_dx = {{1 + 9, 1 + 12}, {1 + 9, 1 + 12}};
  CHECK(dx == expected_dx);
  CHECK(fc.bias().grad()[0] == 2.0);
  CHECK(fc.weight().grad()[0] == 3.0);   // sum of x[:,0]
  CHECK(fc.weight().grad()[1] == -0.5);  // sum of x[:,1]
}

TEST_CASE("linear gradients match finite differences in 2-D and 3-D, with and without bias") {
  for (bool bias : {true, false}) {
    ecgssl::parameter_store<double> store;
    linear<double> fc(5, 4, bias);
    fc.declare_parameters(store, "");
    store.allocate();
    nn_test::randomize(store, 3);
    auto x = nn_test::random_tensor<double, 3>({2, 3, 5}, 11);
    nn_test::require_gradients(ecgssl::testing::check_layer(fc, store, x));
  }
  ecgssl::parameter_store<double> store;
  linear<double, ecgssl::host, 2> fc(3, 6);
  fc.declare_parameters(store, "");
  store.allocate();
  nn_test::randomize(store, 4);
  auto x = nn_test::random_tensor<double, 2>({7, 3}, 12);
  nn_test::require_gradients(ecgssl::testing::check_layer(fc, store, x));
}

TEST_CASE("linear initialisations follow spec 3.10") {
  ecgssl::parameter_store<double> store;
  linear<double> def(256, 300);
  linear<double> bert(ecgssl::nn::linear_options{256, 300, true, ecgssl::nn::linear_init::normal, 0.02});
  linear<double> xavier(ecgssl::nn::linear_options{256, 300, true, ecgssl::nn::linear_init::xavier_uniform});
  def.declare_parameters(store, "a.");
  bert.declare_parameters(store, "b.");
  xavier.declare_parameters(store, "c.");
  store.allocate();
  def.initialize(ecgssl::random_stream(1, 1));
  bert.initialize(ecgssl::random_stream(1, 2));
  xavier.initialize(ecgssl::random_stream(1, 3));
  auto stats = [](std::span<double> v) {
    double mean = 0, sq = 0, mx = 0;
    for (double e : v) mean += e, sq += e * e, mx = std::max(mx, std::abs(e));
    mean /= static_cast<double>(v.size());
    return std::array<double, 3>{mean, std::sqrt(sq / static_cast<double>(v.size()) - mean * mean), mx};
  };
  // U(-1/16, 1/16): std = (1/16)/sqrt 3; 76800 draws -> relative error of the std ~ 0.3%.
  auto s = stats(def.weight().value());
  CHECK(std::abs(s[0]) < 1e-3);
  CHECK(s[1] == doctest::Approx(1.0 / 16.0 / std::sqrt(3.0)).epsilon(0.02));
  CHECK(s[2] <= 1.0 / 16.0);
  CHECK(stats(def.bias().value())[2] <= 1.0 / 16.0);
  CHECK(stats(def.bias().value())[2] > 0.0);
  s = stats(bert.weight().value());
  CHECK(s[1] == doctest::Approx(0.02).epsilon(0.02));
  CHECK(stats(bert.bias().value())[2] == 0.0);
  s = stats(xavier.weight().value());
  const double bound = std::sqrt(6.0 / 556.0);
  CHECK(s[1] == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.02));
  CHECK(s[2] <= bound);
  // Same stream, same values: initialisation is a pure function of the stream.
  std::vector<double> first(def.weight().value().begin(), def.weight().value().end());
  def.initialize(ecgssl::random_stream(1, 1));
  CHECK(std::equal(first.begin(), first.end(), def.weight().value().begin()));
}

TEST_CASE("linear rejects bad configuration and shapes with typed errors") {
  CHECK_THROWS_AS(linear<float>(0, 3), ecgssl::config_error);
  ecgssl::parameter_store<float> store;
  linear<float> fc(4, 2);
  fc.declare_parameters(store, "fc.");
  store.allocate();
  ecgssl::tensor<float, 3> x = xt::zeros<float>({1, 2, 5});
  ecgssl::tensor<float, 3> y;
  CHECK_THROWS_AS(fc.forward(x, y), ecgssl::shape_error);
  ecgssl::tensor<float, 3> dy = xt::zeros<float>({1, 2, 2});
  ecgssl::tensor<float, 3> dx = xt::zeros<float>({1, 2, 4});
  CHECK_THROWS_AS(fc.backward(dy, dx), ecgssl::config_error);  // no forward yet
  ecgssl::tensor<float, 3> good = xt::zeros<float>({1, 2, 4});
  fc.forward(good, y);
  ecgssl::tensor<float, 3> bad_dy = xt::zeros<float>({1, 3, 2});
  CHECK_THROWS_AS(fc.backward(bad_dy, dx), ecgssl::shape_error);
}

TEST_CASE("linear matches torch.nn.Linear (float)") {
  ecgssl::parameter_store<float> store;
  linear<float> fc(5, 4);
  fc.declare_parameters(store, "fc.");
  store.allocate();
  nn_test::load_parameter(store, "fc.weight", "linear/weight");
  nn_test::load_parameter(store, "fc.bias", "linear/bias");
  auto x = nn_test::load<float, 3>("linear/x");
  auto dy = nn_test::load<float, 3>("linear/dy");
  ecgssl::tensor<float, 3> y;
  fc.forward(x, y);
  nn_test::require_close(y, "linear/y", 1e-5);
  ecgssl::tensor<float, 3> dx = xt::zeros<float>(x.shape());
  fc.backward(dy, dx);
  nn_test::require_close(dx, "linear/dx", 1e-4);
  nn_test::require_close(fc.weight().grad(), "linear/dweight", 1e-4);
  nn_test::require_close(fc.bias().grad(), "linear/dbias", 1e-4);
}

TEST_CASE("linear results do not depend on the thread count, and dx can be skipped") {
  auto x = nn_test::random_tensor<float, 3>({4, 50, 64}, 13);
  nn_test::require_thread_independent([] { return linear<float>(64, 96); }, x);
  ecgssl::parameter_store<float> store;
  linear<float> fc(64, 8);
  fc.declare_parameters(store, "");
  store.allocate();
  nn_test::randomize(store, 3);
  fc.set_input_gradient(false);
  ecgssl::tensor<float, 3> y;
  fc.forward(x, y);
  ecgssl::tensor<float, 3> dx = xt::zeros<float>(x.shape());
  fc.backward(y, dx);
  CHECK(dx == xt::zeros<float>(x.shape()));
  CHECK(fc.weight().grad()[0] != 0.0f);
}

// nn::dropout: contract, eval identity, keep rate and scaling, determinism of the counter-based
// mask, finite differences with a fixed mask, parity with F.dropout via an injected mask.
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/core/threading.hpp>
#include <ecgssl/nn/dropout.hpp>

#include <doctest/doctest.h>

#include <cmath>

#include "nn_test_support.hpp"

using ecgssl::nn::dropout;
static_assert(ecgssl::layer<dropout<float>>);
static_assert(ecgssl::layer<dropout<double, ecgssl::host, 2>>);

TEST_CASE("dropout keeps 1-p of the elements, scaled by 1/(1-p), and is identity in eval") {
  dropout<double, ecgssl::host, 1> d(0.25);
  ecgssl::tensor<double, 1> x = xt::ones<double>({100000});
  ecgssl::tensor<double, 1> y;
  d.set_random_stream(ecgssl::random_stream(5, ecgssl::stream_id({3, 0, 0})));
  d.forward(x, y);
  std::size_t kept = 0;
  for (double v : y) {
    CHECK((v == 0.0 || v == doctest::Approx(1.0 / 0.75)));
    kept += v != 0.0;
  }
  // Binomial(100000, 0.75): std ~ 137 -> +-1000 is > 7 sigma.
  CHECK(std::abs(static_cast<double>(kept) - 75000.0) < 1000.0);
  // Backward uses the same mask.
  ecgssl::tensor<double, 1> dx = xt::zeros<double>({100000});
  d.backward(x, dx);
  CHECK(dx == y);
  d.set_training(false);
  d.forward(x, y);
  CHECK(y == x);
}

TEST_CASE("dropout masks are a pure function of the stream, whatever the thread count") {
  dropout<float, ecgssl::host, 1> d(0.5);
  ecgssl::tensor<float, 1> x = xt::ones<float>({50000});
  ecgssl::tensor<float, 1> a, b, c;
  const ecgssl::random_stream rng(9, 1);
  const int threads = ecgssl::max_threads();
  d.set_random_stream(rng);
  d.forward(x, a);
  ecgssl::set_threads(1);
  d.forward(x, b);
  ecgssl::set_threads(threads);
  CHECK(a == b);
  // Element i is kept iff draw i of the stream is >= p.
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a(i) != 0.0f) != (rng.uniform_float(i) >= 0.5f)) FAIL("mask element ", i, " is not draw ", i);
  }
  d.set_random_stream(ecgssl::random_stream(9, 2));
  d.forward(x, c);
  CHECK(a != c);
  // A length that is not a multiple of 4: the vectorised blocks, the single blocks and a
  // partial last block all give draw i.
  ecgssl::tensor<float, 1> odd = xt::ones<float>({16384 + 64 * 3 + 8 + 3});
  ecgssl::tensor<float, 1> e;
  d.set_random_stream(rng);
  d.forward(odd, e);
  for (std::size_t i = 0; i < e.size(); ++i) {
    if ((e(i) != 0.0f) != (rng.uniform_float(i) >= 0.5f)) FAIL("mask element ", i, " is not draw ", i);
  }
}

TEST_CASE("dropout gradient matches finite differences for a fixed mask") {
  ecgssl::parameter_store<double> store;
  dropout<double> d(0.4);
  d.declare_parameters(store, "");
  store.allocate();
  d.set_random_stream(ecgssl::random_stream(1, 1));
  auto x = nn_test::random_tensor<double, 3>({2, 3, 5}, 41);
  nn_test::require_gradients(ecgssl::testing::check_layer(d, store, x));
}

TEST_CASE("dropout reports a missing stream, a bad p and a bad mask") {
  CHECK_THROWS_AS(dropout<float>(1.0), ecgssl::config_error);
  CHECK_THROWS_AS(dropout<float>(-0.1), ecgssl::config_error);
  dropout<float, ecgssl::host, 1> d(0.1);
  ecgssl::tensor<float, 1> x = xt::ones<float>({4});
  ecgssl::tensor<float, 1> y;
  CHECK_THROWS_AS(d.forward(x, y), ecgssl::config_error);
  ecgssl::tensor<float, 1> bad = {1, 0, 0.5f, 1};
  CHECK_THROWS_AS(d.set_mask(bad), ecgssl::data_error);
  dropout<float, ecgssl::host, 1> no_op(0.0);
  no_op.forward(x, y);  // p = 0 needs no stream
  CHECK(y == x);
}

TEST_CASE("dropout matches F.dropout with the same keep mask (float)") {
  dropout<float> d(0.3);
  auto x = nn_test::load<float, 3>("dropout/x");
  auto dy = nn_test::load<float, 3>("dropout/dy");
  d.set_mask(nn_test::load<float, 3>("dropout/keep"));
  ecgssl::tensor<float, 3> y;
  d.forward(x, y);
  nn_test::require_close(y, "dropout/y", 1e-6);
  ecgssl::tensor<float, 3> dx = xt::zeros<float>(x.shape());
  d.backward(dy, dx);
  nn_test::require_close(dx, "dropout/dx", 1e-6);
}

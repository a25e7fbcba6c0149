#include <ecgssl/nn/pos_conv.hpp>

#include <doctest/doctest.h>
#include <support/gradient_check.hpp>

#include <cmath>
#include <vector>

namespace {
using ecgssl::tensor;
using pos_t = ecgssl::nn::pos_conv<double>;
static_assert(ecgssl::layer<pos_t>);
static_assert(ecgssl::layer<ecgssl::nn::pos_conv<float>>);
}  // namespace

TEST_CASE("pos_conv forward matches a direct weight-normalised grouped convolution with SamePad") {
  const std::size_t B = 2, T = 7, D = 8, G = 2, K = 4, dg = D / G;
  ecgssl::parameter_store<double> store;
  pos_t layer({.dim = D, .kernel = K, .groups = G});
  layer.declare_parameters(store, "encoder.pos_conv.0.");
  store.allocate();
  ecgssl::testing::fill_uniform(store.values(), 31, -0.5, 0.5);
  CHECK(store.find("encoder.pos_conv.0.weight_v")->shape == std::vector<std::size_t>{D, dg, K});
  CHECK(store.find("encoder.pos_conv.0.weight_g")->shape == std::vector<std::size_t>{1, 1, K});
  CHECK(store.find("encoder.pos_conv.0.bias")->shape == std::vector<std::size_t>{D});
  tensor<double, 3> x = tensor<double, 3>::from_shape({B, T, D});
  ecgssl::testing::fill_uniform(std::span<double>(x.data(), x.size()), 32);
  tensor<double, 3> y;
  layer.forward(x, y);
  REQUIRE(y.shape() == x.shape());

  auto v = store.values("encoder.pos_conv.0.weight_v");
  auto g = store.values("encoder.pos_conv.0.weight_g");
  auto bias = store.values("encoder.pos_conv.0.bias");
  std::vector<double> norm(K, 0.0);
  for (std::size_t i = 0; i < D * dg; ++i)
    for (std::size_t j = 0; j < K; ++j) norm[j] += v[i * K + j] * v[i * K + j];
  for (auto& n : norm) n = std::sqrt(n);
  // PyTorch Conv1d(padding = K/2) gives T+1 frames; SamePad keeps the first T.
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t o = 0; o < D; ++o) {
        double acc = bias[o];
        const std::size_t group = o / dg;
        for (std::size_t i = 0; i < dg; ++i)
          for (std::size_t j = 0; j < K; ++j) {
            const long s = long(t) + long(j) - long(K / 2);
            if (s < 0 || s >= long(T)) continue;
            acc += g[j] * v[(o * dg + i) * K + j] / norm[j] * x(b, std::size_t(s), group * dg + i);
          }
        const double expected = 0.5 * acc * (1.0 + std::erf(acc / std::sqrt(2.0)));
        CHECK(y(b, t, o) == doctest::Approx(expected).epsilon(1e-12));
      }
}

TEST_CASE("pos_conv gradients (weight norm included) match finite differences") {
  ecgssl::parameter_store<double> store;
  pos_t layer({.dim = 8, .kernel = 6, .groups = 4});
  layer.declare_parameters(store, "");
  store.allocate();
  ecgssl::testing::fill_uniform(store.values(), 41, -0.5, 0.5);
  tensor<double, 3> x = tensor<double, 3>::from_shape({2, 5, 8});
  ecgssl::testing::fill_uniform(std::span<double>(x.data(), x.size()), 42);
  for (const auto& r : ecgssl::testing::check_layer(layer, store, x, 7, 1e-6, 1e-4)) {
    INFO(r.where << " worst index " << r.worst_index << " analytic " << r.analytic << " numeric " << r.numeric);
    CHECK(r.max_relative_error < 1e-5);
  }
}

TEST_CASE("pos_conv rejects bad options and a zero weight_v tap") {
  CHECK_THROWS_AS(pos_t({.dim = 8, .kernel = 5, .groups = 2}), ecgssl::config_error);
  CHECK_THROWS_AS(pos_t({.dim = 8, .kernel = 4, .groups = 3}), ecgssl::config_error);
  ecgssl::parameter_store<double> store;
  pos_t layer({.dim = 4, .kernel = 2, .groups = 2});
  layer.declare_parameters(store, "");
  store.allocate();
  tensor<double, 3> x = tensor<double, 3>::from_shape({1, 3, 4});
  tensor<double, 3> y;
  CHECK_THROWS_AS(layer.forward(x, y), ecgssl::data_error);
}

#include "model/model_fixtures.hpp"

TEST_CASE("pos_conv matches PyTorch weight_norm(Conv1d) + SamePad + GELU") {
  ecgssl::parameter_store<float> store;
  ecgssl::nn::pos_conv<float> layer({.dim = 32, .kernel = 128, .groups = 16});
  layer.declare_parameters(store, "");
  store.allocate();
  for (auto name : {"weight_v", "weight_g", "bias"}) model_test::load_parameter(store, name, "pos_conv", name);
  const auto x = model_test::load<float, 3>("pos_conv", "x");
  tensor<float, 3> y;
  layer.forward(x, y);
  model_test::require_close(y.data(), "pos_conv", "y", 1e-5);
  tensor<float, 3> dx = xt::zeros<float>(x.shape());
  layer.backward(model_test::load<float, 3>("pos_conv", "dy"), dx);
  model_test::require_close(dx.data(), "pos_conv", "dx", 1e-4);
  for (std::string name : {"weight_v", "weight_g", "bias"})
    model_test::require_close(store.grads(name).data(), "pos_conv", "d" + name, 1e-4);
}

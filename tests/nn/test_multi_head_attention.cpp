#include <ecgssl/nn/multi_head_attention.hpp>

#include <doctest/doctest.h>
#include <support/gradient_check.hpp>

#include "nn_test_support.hpp"

#include <cmath>
#include <vector>

namespace {
using ecgssl::tensor;
using mha = ecgssl::nn::multi_head_attention<double>;
static_assert(ecgssl::layer<mha>);
static_assert(ecgssl::layer<ecgssl::nn::multi_head_attention<float>>);

using nn_test::check_all;
using nn_test::random_input;

// Naive attention written from the definition, independent of the layer's GEMM layout.
// x: [b, t, d]; weights read by name from the store.
tensor<double, 3> reference_attention(const tensor<double, 3>& x, ecgssl::parameter_store<double>& s,
                                      std::size_t heads, const std::vector<int>& padded = {}) {
  const auto B = x.shape()[0], T = x.shape()[1], D = x.shape()[2], dh = D / heads;
  auto proj = [&](const std::string& name) {
    auto w = s.values(name + ".weight");
    auto bias = s.values(name + ".bias");
    tensor<double, 3> out = tensor<double, 3>::from_shape({B, T, D});
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t t = 0; t < T; ++t)
        for (std::size_t o = 0; o < D; ++o) {
          double acc = bias[o];
          for (std::size_t i = 0; i < D; ++i) acc += w[o * D + i] * x(b, t, i);
          out(b, t, o) = acc;
        }
    return out;
  };
  auto q = proj("q_proj"), k = proj("k_proj"), v = proj("v_proj");
  tensor<double, 3> ctx = tensor<double, 3>::from_shape({B, T, D});
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t i = 0; i < T; ++i) {
        std::vector<double> e(T);
        double z = 0;
        for (std::size_t j = 0; j < T; ++j) {
          double dot = 0;
          for (std::size_t c = 0; c < dh; ++c) dot += q(b, i, h * dh + c) * k(b, j, h * dh + c);
          const bool pad = !padded.empty() && padded[b * T + j] != 0;
          e[j] = pad ? 0.0 : std::exp(dot / std::sqrt(double(dh)));
          z += e[j];
        }
        for (std::size_t c = 0; c < dh; ++c) {
          double acc = 0;
          for (std::size_t j = 0; j < T; ++j) acc += e[j] / z * v(b, j, h * dh + c);
          ctx(b, i, h * dh + c) = acc;
        }
      }
  tensor<double, 3> out = tensor<double, 3>::from_shape({B, T, D});
  auto w = s.values("out_proj.weight");
  auto bias = s.values("out_proj.bias");
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t o = 0; o < D; ++o) {
        double acc = bias[o];
        for (std::size_t i = 0; i < D; ++i) acc += w[o * D + i] * ctx(b, t, i);
        out(b, t, o) = acc;
      }
  return out;
}
}  // namespace

TEST_CASE("attention forward matches the softmax(QK^T/sqrt(d))V definition") {
  ecgssl::parameter_store<double> store;
  mha layer({.dim = 8, .heads = 2});
  layer.declare_parameters(store, "");
  store.allocate();
  ecgssl::testing::fill_uniform(store.values(), 11, -0.5, 0.5);
  auto x = random_input(2, 5, 8, 3);
  tensor<double, 3> y;
  layer.forward(x, y);
  const auto expected = reference_attention(x, store, 2);
  REQUIRE(y.shape() == expected.shape());
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(y.data()[i] == doctest::Approx(expected.data()[i]).epsilon(1e-12));
}

TEST_CASE("attention gradients match finite differences") {
  ecgssl::parameter_store<double> store;
  mha layer({.dim = 8, .heads = 2});
  layer.declare_parameters(store, "self_attn.");
  store.allocate();
  ecgssl::testing::fill_uniform(store.values(), 5, -0.5, 0.5);
  auto x = random_input(2, 4, 8, 9);
  check_all(ecgssl::testing::check_layer(layer, store, x, 7, 1e-6, 1e-4), 1e-5);
}

TEST_CASE("attention gradients with probability dropout match finite differences") {
  ecgssl::parameter_store<double> store;
  mha layer({.dim = 8, .heads = 4, .attention_dropout = 0.3});
  layer.declare_parameters(store, "");
  store.allocate();
  ecgssl::testing::fill_uniform(store.values(), 6, -0.5, 0.5);
  layer.set_training(true);
  layer.set_random_stream(ecgssl::random_stream(42, 7));
  auto x = random_input(2, 6, 8, 10);
  check_all(ecgssl::testing::check_layer(layer, store, x, 7, 1e-6, 1e-4), 1e-5);
  // dropout changes the output in training, not in evaluation
  tensor<double, 3> train_y, eval_y;
  layer.forward(x, train_y);
  layer.set_training(false);
  layer.forward(x, eval_y);
  CHECK(xt::amax(xt::abs(train_y - eval_y))() > 1e-3);
  const auto expected = reference_attention(x, store, 4);
  for (std::size_t i = 0; i < eval_y.size(); ++i)
    CHECK(eval_y.data()[i] == doctest::Approx(expected.data()[i]).epsilon(1e-12));
}

TEST_CASE("attention with a key padding mask ignores padded keys and has correct gradients") {
  ecgssl::parameter_store<double> store;
  mha layer({.dim = 8, .heads = 2});
  layer.declare_parameters(store, "");
  store.allocate();
  ecgssl::testing::fill_uniform(store.values(), 8, -0.5, 0.5);
  tensor<std::uint8_t, 2> mask = {{0, 0, 0, 1, 1}, {0, 0, 0, 0, 0}};
  layer.set_key_padding_mask(mask);
  auto x = random_input(2, 5, 8, 12);
  tensor<double, 3> y;
  layer.forward(x, y);
  const auto expected = reference_attention(x, store, 2, {0, 0, 0, 1, 1, 0, 0, 0, 0, 0});
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(y.data()[i] == doctest::Approx(expected.data()[i]).epsilon(1e-12));
  // changing a padded frame leaves the unpadded frames' outputs unchanged
  auto x2 = x;
  for (std::size_t c = 0; c < 8; ++c) x2(0, 4, c) += 3.0;
  tensor<double, 3> y2;
  layer.forward(x2, y2);
  for (std::size_t t = 0; t < 3; ++t)
    for (std::size_t c = 0; c < 8; ++c) CHECK(y2(0, t, c) == doctest::Approx(y(0, t, c)).epsilon(1e-13));
  check_all(ecgssl::testing::check_layer(layer, store, x, 7, 1e-6, 1e-4), 1e-5);
}

TEST_CASE("legacy batch-axis attention equals time attention on the transposed batch") {
  ecgssl::parameter_store<double> store_a, store_b;
  mha legacy({.dim = 8, .heads = 2, .legacy_batch_axis = true});
  mha normal({.dim = 8, .heads = 2});
  legacy.declare_parameters(store_a, "");
  normal.declare_parameters(store_b, "");
  store_a.allocate();
  store_b.allocate();
  ecgssl::testing::fill_uniform(store_a.values(), 13, -0.5, 0.5);
  std::copy(store_a.values().begin(), store_a.values().end(), store_b.values().begin());
  auto x = random_input(3, 5, 8, 14);                     // [batch 3, time 5]
  tensor<double, 3> xt_ = xt::transpose(x, {1, 0, 2});     // [time 5, batch 3]
  tensor<double, 3> y_legacy, y_normal;
  legacy.forward(x, y_legacy);
  normal.forward(xt_, y_normal);
  tensor<double, 3> back = xt::transpose(y_normal, {1, 0, 2});
  for (std::size_t i = 0; i < back.size(); ++i)
    CHECK(y_legacy.data()[i] == doctest::Approx(back.data()[i]).epsilon(1e-12));
  // the legacy output of a sample depends on the other samples of the batch
  auto x2 = x;
  for (std::size_t c = 0; c < 8; ++c) x2(2, 1, c) += 1.0;
  tensor<double, 3> y2;
  legacy.forward(x2, y2);
  CHECK(std::abs(y2(0, 1, 0) - y_legacy(0, 1, 0)) > 1e-6);
  CHECK(y2(0, 2, 0) == doctest::Approx(y_legacy(0, 2, 0)).epsilon(1e-14));
  check_all(ecgssl::testing::check_layer(legacy, store_a, x, 7, 1e-6, 1e-4), 1e-5);
}

TEST_CASE("attention rejects bad options and inputs with typed errors") {
  CHECK_THROWS_AS(mha({.dim = 10, .heads = 4}), ecgssl::config_error);
  CHECK_THROWS_AS(mha({.dim = 8, .heads = 2, .attention_dropout = 1.0}), ecgssl::config_error);
  mha legacy({.dim = 8, .heads = 2, .legacy_batch_axis = true});
  CHECK_THROWS_AS(legacy.set_key_padding_mask(tensor<std::uint8_t, 2>{{0, 1}}), ecgssl::config_error);
  mha layer({.dim = 8, .heads = 2});
  CHECK_THROWS_AS(layer.set_key_padding_mask(tensor<std::uint8_t, 2>{{0, 1}, {1, 1}}), ecgssl::data_error);
  ecgssl::parameter_store<double> store;
  layer.declare_parameters(store, "");
  store.allocate();
  tensor<double, 3> y;
  CHECK_THROWS_AS(layer.forward(random_input(1, 3, 6, 1), y), ecgssl::shape_error);
}

#include "model/model_fixtures.hpp"

namespace {
void attention_parity(const std::string& test_case, bool legacy, bool padding) {
  using ecgssl::tensor;
  ecgssl::parameter_store<float> store;
  ecgssl::nn::multi_head_attention<float> layer({.dim = 16, .heads = 4, .attention_dropout = 0.2,
                                                 .legacy_batch_axis = legacy});
  layer.declare_parameters(store, "");
  store.allocate();
  for (const auto& e : store.entries()) model_test::load_parameter(store, e.name, test_case, "p_" + e.name);
  if (padding) layer.set_key_padding_mask(model_test::load<std::uint8_t, 2>(test_case, "padding"));
  layer.set_training(true);
  layer.set_probability_mask(model_test::load_flat<float>(test_case, "probs_keep"));
  const auto x = model_test::load<float, 3>(test_case, "x");
  tensor<float, 3> y;
  layer.forward(x, y);
  model_test::require_close(y.data(), test_case, "y", 1e-5);
  tensor<float, 3> dx = xt::zeros<float>(x.shape());
  layer.backward(model_test::load<float, 3>(test_case, "dy"), dx);
  model_test::require_close(dx.data(), test_case, "dx", 1e-4);
  for (const auto& e : store.entries())
    model_test::require_close(store.grads(e.name).data(), test_case, "dp_" + e.name, 1e-4,
                              e.name.find("k_proj.bias") != std::string::npos ? 0.1 : 0.0);
}
}  // namespace

TEST_CASE("attention matches PyTorch: time axis, key padding, explicit probability dropout") {
  attention_parity("attention_time", false, true);
}

TEST_CASE("attention matches PyTorch: legacy batch axis with probability dropout") {
  attention_parity("attention_legacy", true, false);
}

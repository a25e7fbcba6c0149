#include <ecgssl/nn/transformer_layer.hpp>

#include <doctest/doctest.h>
#include <support/gradient_check.hpp>

#include "nn_test_support.hpp"

#include <cmath>
#include <vector>

namespace {
using ecgssl::tensor;
using layer_t = ecgssl::nn::transformer_layer<double>;
static_assert(ecgssl::layer<layer_t>);
static_assert(ecgssl::layer<ecgssl::nn::transformer_layer<float>>);

using nn_test::check_all;
using nn_test::random_input;

// Row-wise reference pieces, written from their definitions.
using rows_t = std::vector<std::vector<double>>;
rows_t to_rows(const tensor<double, 3>& x) {
  rows_t r(x.shape()[0] * x.shape()[1], std::vector<double>(x.shape()[2]));
  for (std::size_t i = 0; i < r.size(); ++i)
    for (std::size_t c = 0; c < x.shape()[2]; ++c) r[i][c] = x.data()[i * x.shape()[2] + c];
  return r;
}
rows_t linear(const rows_t& x, ecgssl::parameter_store<double>& s, const std::string& name) {
  auto w = s.values(name + ".weight");
  auto b = s.values(name + ".bias");
  const auto out = b.size(), in = x[0].size();
  rows_t y(x.size(), std::vector<double>(out));
  for (std::size_t r = 0; r < x.size(); ++r)
    for (std::size_t o = 0; o < out; ++o) {
      y[r][o] = b[o];
      for (std::size_t i = 0; i < in; ++i) y[r][o] += w[o * in + i] * x[r][i];
    }
  return y;
}
rows_t layer_norm(const rows_t& x, ecgssl::parameter_store<double>& s, const std::string& name, double eps) {
  auto g = s.values(name + ".weight");
  auto b = s.values(name + ".bias");
  rows_t y = x;
  for (std::size_t r = 0; r < x.size(); ++r) {
    double m = 0, v = 0;
    for (double a : x[r]) m += a;
    m /= double(x[r].size());
    for (double a : x[r]) v += (a - m) * (a - m);
    v /= double(x[r].size());
    for (std::size_t i = 0; i < x[r].size(); ++i) y[r][i] = (x[r][i] - m) / std::sqrt(v + eps) * g[i] + b[i];
  }
  return y;
}
rows_t add(const rows_t& a, const rows_t& b) {
  rows_t y = a;
  for (std::size_t r = 0; r < a.size(); ++r)
    for (std::size_t i = 0; i < a[r].size(); ++i) y[r][i] += b[r][i];
  return y;
}
rows_t gelu(rows_t x) {
  for (auto& row : x)
    for (auto& v : row) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
  return x;
}

// Evaluation-mode reference of one layer; the attention comes from a separately verified layer
// (test_multi_head_attention.cpp) run on the given input.
rows_t reference_layer(const tensor<double, 3>& x, ecgssl::parameter_store<double>& s, bool pre_ln,
                       std::size_t heads) {
  ecgssl::nn::multi_head_attention<double> attn({.dim = x.shape()[2], .heads = heads});
  ecgssl::parameter_store<double> as;
  attn.declare_parameters(as, "");
  as.allocate();
  for (const auto& e : as.entries()) {
    auto src = s.values("self_attn." + e.name);
    std::copy(src.begin(), src.end(), as.values(e.name).begin());
  }
  auto run_attn = [&](const rows_t& in) {
    tensor<double, 3> t = x;
    for (std::size_t r = 0; r < in.size(); ++r)
      for (std::size_t c = 0; c < in[r].size(); ++c) t.data()[r * in[r].size() + c] = in[r][c];
    tensor<double, 3> y;
    attn.forward(t, y);
    return to_rows(y);
  };
  const auto xr = to_rows(x);
  auto ffn = [&](const rows_t& in) { return linear(gelu(linear(in, s, "fc1")), s, "fc2"); };
  if (!pre_ln) {
    auto h = layer_norm(add(xr, run_attn(xr)), s, "self_attn_layer_norm", 1e-6);
    return layer_norm(add(h, ffn(h)), s, "final_layer_norm", 1e-6);
  }
  auto r = add(xr, run_attn(layer_norm(xr, s, "self_attn_layer_norm", 1e-6)));
  return add(r, ffn(layer_norm(r, s, "final_layer_norm", 1e-6)));
}

void run_layer_checks(bool pre_ln) {
  ecgssl::parameter_store<double> store;
  layer_t layer({.dim = 8, .heads = 2, .ffn_dim = 12, .dropout = 0.2, .attention_dropout = 0.25,
                 .activation_dropout = 0.15, .layer_norm_first = pre_ln});
  layer.declare_parameters(store, "encoder.layers.0.");
  store.allocate();
  ecgssl::testing::fill_uniform(store.values(), 21, -0.5, 0.5);
  // layer-norm gains near 1 keep the problem well conditioned
  for (auto name : {"self_attn_layer_norm", "final_layer_norm"})
    for (auto& g : store.values(std::string("encoder.layers.0.") + name + ".weight")) g += 1.0;
  auto x = random_input(2, 5, 8, 22);

  layer.set_training(false);
  tensor<double, 3> y;
  layer.forward(x, y);
  ecgssl::parameter_store<double> plain;  // same values without the prefix
  for (const auto& e : store.entries()) plain.add(e.name.substr(17), e.shape);
  plain.allocate();
  std::copy(store.values().begin(), store.values().end(), plain.values().begin());
  const auto expected = reference_layer(x, plain, pre_ln, 2);
  for (std::size_t r = 0; r < expected.size(); ++r)
    for (std::size_t c = 0; c < 8; ++c) CHECK(y.data()[r * 8 + c] == doctest::Approx(expected[r][c]).epsilon(1e-11));
  check_all(ecgssl::testing::check_layer(layer, store, x, 7, 1e-6, 1e-3), 1e-5);

  layer.set_training(true);
  layer.set_random_stream(ecgssl::random_stream(3, 17));
  tensor<double, 3> y_train;
  layer.forward(x, y_train);
  CHECK(xt::amax(xt::abs(y_train - y))() > 1e-3);
  check_all(ecgssl::testing::check_layer(layer, store, x, 7, 1e-6, 1e-3), 1e-5);
}
}  // namespace

TEST_CASE("post-LN transformer layer: forward matches the definition, gradients match finite differences") {
  run_layer_checks(false);
}

TEST_CASE("pre-LN transformer layer: forward matches the definition, gradients match finite differences") {
  run_layer_checks(true);
}

TEST_CASE("transformer layer declares the wav2vec2 parameter names") {
  ecgssl::parameter_store<float> store;
  ecgssl::nn::transformer_layer<float> layer({.dim = 16, .heads = 4, .ffn_dim = 32});
  layer.declare_parameters(store, "encoder.layers.1.");
  const std::vector<std::pair<std::string, std::vector<std::size_t>>> expected = {
      {"encoder.layers.1.self_attn.q_proj.weight", {16, 16}}, {"encoder.layers.1.self_attn.q_proj.bias", {16}},
      {"encoder.layers.1.self_attn.k_proj.weight", {16, 16}}, {"encoder.layers.1.self_attn.v_proj.bias", {16}},
      {"encoder.layers.1.self_attn.out_proj.weight", {16, 16}},
      {"encoder.layers.1.self_attn_layer_norm.weight", {16}}, {"encoder.layers.1.fc1.weight", {32, 16}},
      {"encoder.layers.1.fc1.bias", {32}}, {"encoder.layers.1.fc2.weight", {16, 32}},
      {"encoder.layers.1.final_layer_norm.bias", {16}}};
  for (const auto& [name, shape] : expected) {
    INFO(name);
    REQUIRE(store.find(name) != nullptr);
    CHECK(store.find(name)->shape == shape);
  }
  // 4 D^2 + 4 D (attention) + 2 D F + F + D (FFN) + 4 D (norms)
  CHECK(store.size() == 4 * 256 + 4 * 16 + 2 * 16 * 32 + 32 + 16 + 4 * 16);
  CHECK_THROWS_AS(ecgssl::nn::transformer_layer<float>({.dim = 16, .heads = 4, .dropout = 1.5}),
                  ecgssl::config_error);
}

#include "model/model_fixtures.hpp"

namespace {
void layer_parity(const std::string& test_case, bool pre_ln) {
  ecgssl::parameter_store<float> store;
  ecgssl::nn::transformer_layer<float> layer({.dim = 16, .heads = 4, .ffn_dim = 32, .dropout = 0.1,
                                              .attention_dropout = 0.2, .activation_dropout = 0.15,
                                              .layer_norm_first = pre_ln});
  layer.declare_parameters(store, "");
  store.allocate();
  for (const auto& e : store.entries()) model_test::load_parameter(store, e.name, test_case, "p_" + e.name);
  layer.set_training(true);
  layer.attention().set_probability_mask(model_test::load_flat<float>(test_case, "keep_probs"));
  const char* sites[] = {"keep_attn_out", "keep_dropout1", "keep_activation", "keep_dropout2"};
  for (int i = 0; i < 4; ++i) layer.dropout_site(i).set_mask(model_test::load<float, 3>(test_case, sites[i]));
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

TEST_CASE("post-LN transformer layer matches PyTorch with explicit dropout masks at every site") {
  layer_parity("layer_post_ln", false);
}

TEST_CASE("pre-LN transformer layer matches PyTorch with explicit dropout masks at every site") {
  layer_parity("layer_pre_ln", true);
}

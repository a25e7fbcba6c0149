#include <ecgssl/model/ecg_transformer.hpp>

#include <doctest/doctest.h>
#include <support/gradient_check.hpp>

#include <cmath>
#include <vector>

namespace {
using ecgssl::tensor;
using ecgssl::model::ecg_transformer;
using ecgssl::model::ecg_transformer_options;
using ecgssl::model::extractor_mode;
template <class T>
struct double_config {
  using scalar_type = T;
  using backend_type = ecgssl::host;
  static constexpr ecg_transformer_options options() { return {}; }
};
static_assert(ecgssl::layer<ecg_transformer<ecgssl::model::tiny_config<float>>>);
static_assert(ecgssl::layer<ecg_transformer<double_config<double>>>);

template <class Config>
std::size_t count_parameters(ecg_transformer_options o) {
  ecgssl::parameter_store<typename Config::scalar_type> store;
  ecg_transformer<Config> model(o);
  model.declare_parameters(store);
  return store.size();
}
}  // namespace

TEST_CASE("parameter counts of the named configurations match spec 3.11") {
  using namespace ecgssl::model;
  CHECK(count_parameters<tiny_config<>>(tiny_config<>::options()) == 893440u);
  CHECK(count_parameters<small_config<>>(small_config<>::options()) == 4462848u);
  CHECK(count_parameters<base_config<>>(base_config<>::options()) == 90883072u);
  auto backbone = base_config<>::options();
  backbone.pretraining_heads = false;
  CHECK(count_parameters<base_config<>>(backbone) == 90373248u);
  // spec §3.11 pieces: conv 399,360 + GroupNorm 512 + feature LN 512 + post_extract_proj 197,376
  // + pos conv 4,719,488 + 12 x 7,087,872 + encoder LN 1,536
  CHECK(399360u + 512u + 512u + 197376u + 4719488u + 12u * 7087872u + 1536u == 90373248u);
  // paper-text extractor: LayerNorm (2C) after each of the 4 blocks instead of one GroupNorm (2C)
  auto paper = base_config<>::options();
  paper.mode = extractor_mode::layer_norm;
  CHECK(count_parameters<base_config<>>(paper) == 90883072u + 3u * 512u);
}

TEST_CASE("base model parameter names and shapes follow the fairseq-signals state dict") {
  using namespace ecgssl::model;
  ecgssl::parameter_store<float> store;
  ecg_transformer<base_config<>> model;
  model.declare_parameters(store);
  using shape = std::vector<std::size_t>;
  const std::vector<std::pair<std::string, shape>> expected = {
      {"feature_extractor.conv_layers.0.0.weight", {256, 12, 2}},
      {"feature_extractor.conv_layers.3.0.weight", {256, 256, 2}},
      {"feature_extractor.conv_layers.0.2.weight", {256}},
      {"feature_extractor.conv_layers.0.2.bias", {256}},
      {"layer_norm.weight", {256}},
      {"post_extract_proj.weight", {768, 256}},
      {"post_extract_proj.bias", {768}},
      {"mask_emb", {768}},
      {"encoder.pos_conv.0.weight_v", {768, 48, 128}},
      {"encoder.pos_conv.0.weight_g", {1, 1, 128}},
      {"encoder.pos_conv.0.bias", {768}},
      {"encoder.layer_norm.bias", {768}},
      {"encoder.layers.11.self_attn.out_proj.weight", {768, 768}},
      {"encoder.layers.0.self_attn.k_proj.bias", {768}},
      {"encoder.layers.5.self_attn_layer_norm.weight", {768}},
      {"encoder.layers.5.fc1.weight", {3072, 768}},
      {"encoder.layers.5.fc2.weight", {768, 3072}},
      {"encoder.layers.5.final_layer_norm.bias", {768}},
      {"quantizer.vars", {1, 640, 128}},
      {"quantizer.weight_proj.weight", {640, 256}},
      {"quantizer.weight_proj.bias", {640}},
      {"project_q.weight", {256, 256}},
      {"final_proj.weight", {256, 768}},
      {"final_proj.bias", {256}}};
  for (const auto& [name, s] : expected) {
    INFO(name);
    REQUIRE(store.find(name) != nullptr);
    CHECK(store.find(name)->shape == s);
  }
  CHECK(store.find("feature_extractor.conv_layers.1.2.weight") == nullptr);
  CHECK(store.find("feature_extractor.conv_layers.0.0.bias") == nullptr);
  ecgssl::parameter_store<float> tiny_store;
  ecg_transformer<tiny_config<>> tiny;
  tiny.declare_parameters(tiny_store);
  CHECK(tiny_store.find("post_extract_proj.weight") == nullptr);  // C == D
  CHECK(tiny.frames(2500) == 156u);
}

namespace {
ecg_transformer_options mini_options(extractor_mode mode, bool pre_ln, std::size_t embed) {
  ecg_transformer_options o;
  o.in_channels = 2;
  o.conv_dim = 8;
  o.conv_layers = 2;
  o.mode = mode;
  o.embed_dim = embed;
  o.layers = 1;
  o.heads = 2;
  o.ffn_dim = 10;
  o.pos_kernel = 4;
  o.pos_groups = 2;
  o.layer_norm_first = pre_ln;
  o.final_dim = 6;
  o.latent_vars = 3;
  o.latent_groups = 2;
  o.feature_grad_mult = 1.0;
  o.dropout = 0.2;
  o.attention_dropout = 0.2;
  o.activation_dropout = 0.1;
  o.dropout_input = 0.15;
  o.dropout_features = 0.15;
  return o;
}

// Full-objective finite-difference check of every parameter: masked and quantized paths, the
// perplexity, the features and the encoded outputs all enter the objective.
void check_model_gradients(const ecg_transformer_options& o) {
  ecgssl::parameter_store<double> store;
  ecg_transformer<double_config<double>> model(o);
  model.declare_parameters(store);
  store.allocate();
  model.initialize(ecgssl::random_stream(71, 1));
  // perturb every value so norms and biases are not at their trivial initial values
  std::vector<double> noise(store.size());
  ecgssl::testing::fill_uniform(noise, 72, -0.2, 0.2);
  for (std::size_t i = 0; i < store.size(); ++i) store.values()[i] += noise[i];
  model.set_training(true);
  model.quantizer().set_training(false);  // argmax codes: piecewise constant, FD-checkable
  model.set_step(5, 9);
  tensor<std::uint8_t, 2> mask = {{0, 1, 1, 0, 0, 1}, {1, 0, 0, 1, 1, 0}};
  model.set_mask(mask);
  tensor<double, 3> x = tensor<double, 3>::from_shape({2, 2, 24});  // -> 6 frames
  ecgssl::testing::fill_uniform(std::span<double>(x.data(), x.size()), 73);

  const auto& out = model.forward(x);
  REQUIRE(out.predictions.shape()[0] == 6u);
  CHECK(out.masked_per_sample == 3u);
  CHECK(out.features.shape() == std::array<std::size_t, 3>{2, 8, 6});
  ecg_transformer<double_config<double>>::gradients g;
  auto weights = [](auto t, std::uint64_t seed) {
    ecgssl::testing::fill_uniform(std::span<double>(t.data(), t.size()), seed);
    return t;
  };
  g.predictions = weights(out.predictions, 74);
  g.targets = weights(out.targets, 75);
  g.features = weights(out.features, 76);
  g.encoded = weights(out.encoded, 77);
  g.prob_perplexity = 0.3;
  auto objective = [&]() {
    const auto& o2 = model.forward(x);
    double s = g.prob_perplexity * o2.prob_perplexity;
    auto dot = [](const auto& a, const auto& b) {
      double acc = 0;
      for (std::size_t i = 0; i < a.size(); ++i) acc += a.data()[i] * b.data()[i];
      return acc;
    };
    return s + dot(o2.predictions, g.predictions) + dot(o2.targets, g.targets) +
           dot(o2.features, g.features) + dot(o2.encoded, g.encoded);
  };
  store.zero_grad();
  model.forward(x);
  model.backward(g);
  const std::vector<double> grads(store.grads().begin(), store.grads().end());
  for (const auto& e : store.entries()) {
    const auto r = ecgssl::testing::check_gradient(store.values().subspan(e.offset, e.size),
                                                   std::span<const double>(grads).subspan(e.offset, e.size),
                                                   objective, e.name, 1e-6, 1e-3);
    INFO(e.name << " worst " << r.worst_index << " analytic " << r.analytic << " numeric " << r.numeric);
    CHECK(r.max_relative_error < 1e-5);
  }
}
}  // namespace

TEST_CASE("tiny-shaped encoder gradients match finite differences: default extractor, post-LN") {
  check_model_gradients(mini_options(extractor_mode::group_norm_first, false, 8));
}

TEST_CASE("encoder gradients match finite differences: layer-norm extractor, pre-LN, post_extract_proj") {
  check_model_gradients(mini_options(extractor_mode::layer_norm, true, 12));
}

TEST_CASE("feature_grad_mult scales exactly the extractor gradients") {
  auto o = mini_options(extractor_mode::group_norm_first, false, 12);
  auto grads_for = [&](double mult) {
    o.feature_grad_mult = mult;
    ecgssl::parameter_store<double> store;
    ecg_transformer<double_config<double>> model(o);
    model.declare_parameters(store);
    store.allocate();
    model.initialize(ecgssl::random_stream(81, 1));
    model.set_step(1, 2);
    tensor<double, 3> x = tensor<double, 3>::from_shape({2, 2, 24});
    ecgssl::testing::fill_uniform(std::span<double>(x.data(), x.size()), 82);
    const auto& out = model.forward(x);
    ecg_transformer<double_config<double>>::gradients g;
    g.encoded = out.encoded;
    g.predictions = out.predictions;
    g.targets = out.targets;
    model.backward(g);
    std::vector<std::pair<std::string, std::vector<double>>> r;
    for (const auto& e : store.entries())
      r.emplace_back(e.name, std::vector<double>(store.grads().begin() + long(e.offset),
                                                 store.grads().begin() + long(e.offset + e.size)));
    return r;
  };
  const auto full = grads_for(1.0);
  const auto tenth = grads_for(0.1);
  for (std::size_t i = 0; i < full.size(); ++i) {
    const bool extractor = full[i].first.rfind("feature_extractor.", 0) == 0;
    INFO(full[i].first);
    for (std::size_t j = 0; j < full[i].second.size(); ++j)
      CHECK(tenth[i].second[j] == doctest::Approx(extractor ? 0.1 * full[i].second[j] : full[i].second[j]).epsilon(1e-12));
  }
}

TEST_CASE("span masking in training: equal masked counts per sample, none in evaluation") {
  ecgssl::parameter_store<float> store;
  auto o = ecgssl::model::tiny_config<>::options();
  o.layers = 1;
  ecg_transformer<ecgssl::model::tiny_config<>> model(o);
  model.declare_parameters(store);
  store.allocate();
  model.initialize(ecgssl::random_stream(3, 3));
  tensor<float, 3> x = tensor<float, 3>::from_shape({4, 12, 2500});
  const ecgssl::random_stream rng(4, 4);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.normal(i));
  model.set_step(1, 1);
  const auto& out = model.forward(x);
  CHECK(out.encoded.shape() == std::array<std::size_t, 3>{4, 156, 128});
  CHECK(out.masked_per_sample >= 10u);
  CHECK(out.predictions.shape() == std::array<std::size_t, 2>{4 * out.masked_per_sample, 256});
  CHECK(out.targets.shape() == out.predictions.shape());
  CHECK(out.prob_perplexity > 1.0);
  CHECK(out.prob_perplexity <= 640.0);
  model.set_training(false);
  const auto& eval = model.forward(x);
  CHECK(eval.predictions.shape()[0] == 0u);
  CHECK(xt::sum(eval.mask)() == 0);
  tensor<float, 3> bad = tensor<float, 3>::from_shape({1, 3, 100});
  CHECK_THROWS_AS(model.forward(bad), ecgssl::shape_error);
}

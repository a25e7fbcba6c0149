// Parity of the tiny ECG transformer with tools/torch_reference_encoder.py (fixtures written by
// tools/make_model_fixtures.py): forward outputs to 1e-5, parameter gradients to 1e-4 (float).

#include <ecgssl/model/ecg_transformer.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "model/model_fixtures.hpp"

namespace {
using ecgssl::tensor;

std::uint32_t fnv1a32(const std::string& name) {
  std::uint32_t h = 0x811C9DC5u;
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x01000193u;
  }
  return h;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The weight formula documented in tools/make_model_fixtures.py.
void fill_formula(ecgssl::parameter_store<float>& store) {
  for (const auto& e : store.entries()) {
    auto v = store.values(e.name);
    const std::uint64_t salt = fnv1a32(e.name);
    for (std::size_t i = 0; i < e.size; ++i) {
      const std::uint64_t h = (std::uint64_t(i) * 2654435761ull + salt * 40503ull) % (1ull << 32);
      const double u = double(h) / 4294967296.0;
      double value;
      if ((ends_with(e.name, ".weight") && e.shape.size() == 1) || ends_with(e.name, "weight_g")) {
        value = 1.0 + 0.2 * (2 * u - 1);
      } else if (ends_with(e.name, ".bias")) {
        value = 0.1 * (2 * u - 1);
      } else if (e.name == "mask_emb" || e.name == "quantizer.vars") {
        value = u;
      } else {
        value = (2 * u - 1) * std::sqrt(3.0 / double(e.size / e.shape[0]));
      }
      v[i] = static_cast<float>(value);
    }
  }
}
}  // namespace

TEST_CASE("tiny encoder matches PyTorch: masked and quantized paths, every dropout site") {
  const std::string fx = "encoder_tiny";
  using model_t = ecgssl::model::ecg_transformer<ecgssl::model::tiny_config<float>>;
  ecgssl::parameter_store<float> store;
  model_t model;
  model.declare_parameters(store);
  store.allocate();
  fill_formula(store);
  model.set_training(true);
  model.set_num_updates(5000);
  model.set_mask(model_test::load<std::uint8_t, 2>(fx, "mask"));
  model.quantizer().set_gumbel_noise(model_test::load<float, 2>(fx, "noise"));
  model.dropout_features().set_mask(model_test::load<float, 3>(fx, "keep_dropout_features"));
  model.dropout_input().set_mask(model_test::load<float, 3>(fx, "keep_dropout_input"));
  model.encoder_dropout().set_mask(model_test::load<float, 3>(fx, "keep_encoder_dropout"));
  for (std::size_t l = 0; l < 2; ++l) {
    const std::string p = "keep_layers_" + std::to_string(l) + "_";
    auto& layer = model.layer(l);
    layer.attention().set_probability_mask(model_test::load_flat<float>(fx, p + "probs"));
    layer.dropout_site(0).set_mask(model_test::load<float, 3>(fx, p + "attn_out"));
    layer.dropout_site(1).set_mask(model_test::load<float, 3>(fx, p + "dropout1"));
    layer.dropout_site(3).set_mask(model_test::load<float, 3>(fx, p + "dropout2"));
  }
  const auto x = model_test::load<float, 3>(fx, "x");
  const auto& out = model.forward(x);
  model_test::require_close(out.features.data(), fx, "features", 1e-5);
  model_test::require_close(out.encoded.data(), fx, "encoded", 1e-5);
  REQUIRE(out.predictions.shape()[0] == 16u);
  CHECK(out.masked_per_sample == 8u);
  model_test::require_close(out.predictions.data(), fx, "predictions", 1e-5);
  model_test::require_close(out.targets.data(), fx, "targets", 1e-5);
  CHECK(out.prob_perplexity == doctest::Approx(model_test::read(fx, "prob_perplexity").values[0]).epsilon(1e-5));
  CHECK(out.code_perplexity == doctest::Approx(model_test::read(fx, "code_perplexity").values[0]).epsilon(1e-5));

  model_t::gradients g;
  g.predictions = model_test::load<float, 2>(fx, "d_predictions");
  g.targets = model_test::load<float, 2>(fx, "d_targets");
  g.features = model_test::load<float, 3>(fx, "d_features");
  g.encoded = model_test::load<float, 3>(fx, "d_encoded");
  g.prob_perplexity = static_cast<float>(model_test::read(fx, "d_prob_perplexity").values[0]);
  model.backward(g);
  for (const auto& e : store.entries()) {
    const auto expected = model_test::read(fx, "grad_" + e.name).values;
    const std::size_t stride = std::max<std::size_t>(1, e.size / 48);
    std::vector<float> sampled;
    for (std::size_t i = 0; i < expected.size(); ++i) sampled.push_back(store.grads(e.name)[i * stride]);
    model_test::require_close(sampled.data(), expected, e.name, 1e-4,
                              e.name.find("k_proj.bias") != std::string::npos ? 0.1 : 0.0);
  }
}

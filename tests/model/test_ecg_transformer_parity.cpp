// Parity of the tiny ECG transformer with tools/torch_reference_encoder.py (fixtures written by
// tools/make_model_fixtures.py): forward outputs to 1e-5, parameter gradients to 1e-4 (float).

#include <ecgssl/core/precision.hpp>
#include <ecgssl/core/threading.hpp>
#include <ecgssl/data/wfdb_dataset.hpp>
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

// Issue 17: the bf16 forward against PyTorch 2.x's torch.autocast("cpu", torch.bfloat16) on a real
// record (tools/make_autocast_fixture.py; fixture tests/data/model/autocast_tiny, PyTorch 2.15).
// Autocast also rounds every product's output to bf16, so it strays further from float32 than
// ecgssl's bf16 mode, which keeps outputs in float32. Measured when written: relative differences
// from float32 0.0215 (PyTorch) and 0.0165 (ecgssl); bf16 against autocast 0.0206. The rms
// estimate of docs/precision.md gives 0.014 for ecgssl and sqrt(3/2) x 0.014 = 0.017 for autocast
// (a third rounding per product); each side within 4x its estimate puts the two bf16 outputs
// within 0.056 + 0.07 = 0.13 of each other.
TEST_CASE("tiny encoder in bf16 matches PyTorch 2.x torch.autocast(bfloat16) on a real record") {
  const std::string fx = "autocast_tiny";
  using model_t = ecgssl::model::ecg_transformer<ecgssl::model::tiny_config<float>>;
  ecgssl::set_threads(1);
  ecgssl::parameter_store<float> store;
  model_t model;
  model.declare_parameters(store);
  store.allocate();
  fill_formula(store);
  model.set_training(false);
  const auto x = model_test::load<float, 3>(fx, "x");
  // The fixture's input is the record as ecgssl reads it (within float32 rounding of mV).
  {
    const ecgssl::data::wfdb_dataset data(std::string(ECGSSL_TEST_DATA_DIR) + "/records/challenge");
    tensor<float, 2> segment;
    ecgssl::data::segment_meta meta;
    data.pairs()->read(0, 0, segment, meta);
    REQUIRE(meta.record_id == "A0001");
    REQUIRE(segment.size() == x.size());
    for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(std::abs(segment.data()[i] - x.data()[i]) <= 1e-6f * (1 + std::abs(x.data()[i])));
  }
  const auto torch_fp32 = model_test::read(fx, "fp32").values;
  const auto torch_bf16 = model_test::read(fx, "bf16").values;
  auto encoded = [&](ecgssl::precision mode) {
    const ecgssl::precision_scope scope(mode);
    const auto& out = model.forward(x);
    return std::vector<double>(out.encoded.data(), out.encoded.data() + out.encoded.size());
  };
  auto relative = [](const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff += (a[i] - b[i]) * (a[i] - b[i]), norm += b[i] * b[i];
    return std::sqrt(diff / norm);
  };
  const auto ours_fp32 = encoded(ecgssl::precision::fp32);
  const auto ours_bf16 = encoded(ecgssl::precision::bf16);
  const double fp32_parity = relative(ours_fp32, torch_fp32);
  const double bf16_parity = relative(ours_bf16, torch_bf16);
  const double ours_to_fp32 = relative(ours_bf16, torch_fp32);
  const double theirs_to_fp32 = relative(torch_bf16, torch_fp32);
  MESSAGE("relative differences: fp32 parity " << fp32_parity << ", bf16 vs autocast " << bf16_parity
                                                << ", ecgssl bf16 vs fp32 " << ours_to_fp32 << ", autocast vs fp32 " << theirs_to_fp32);
  CHECK(fp32_parity < 1e-5);
  CHECK(bf16_parity < 0.13);
  CHECK(ours_to_fp32 < 0.056);
  CHECK(ours_to_fp32 > 0x1p-12);
}

// w2v_cmsc_criterion's rule for negatives equal to their positive (spec §4.1, §11): by_code,
// from the quantizer's codes that the encoder reports per head row, masks exactly the negatives
// that by_value (bitwise-equal targets, the reference's rule) masks, on a quantizer with so few
// codes that such negatives are common.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/model/ecg_transformer.hpp>
#include <ecgssl/pipeline/pretraining/w2v_cmsc_criterion.hpp>

namespace {

// 2 groups of 2 codes: 4 possible targets, so most segments hold repeated targets.
struct few_codes_config {
  using scalar_type = double;
  using backend_type = ecgssl::host;
  static ecgssl::model::ecg_transformer_options options() {
    auto o = ecgssl::model::tiny_config<double>::options();
    o.conv_dim = 32;
    o.embed_dim = 32;
    o.final_dim = 8;
    o.layers = 1;
    o.heads = 2;
    o.ffn_dim = 32;
    o.latent_vars = 2;
    o.pos_kernel = 16;
    o.pos_groups = 4;
    o.apply_mask = true;
    o.pretraining_heads = true;
    return o;
  }
};
using encoder_t = ecgssl::model::ecg_transformer<few_codes_config>;

ecgssl::data::batch synthetic_batch() {
  ecgssl::data::batch b;
  b.signals = ecgssl::tensor<float, 3>::from_shape({3, 12, 2500});
  const ecgssl::random_stream noise(5, 1);
  for (std::size_t s = 0; s < 3; ++s) {
    for (std::size_t l = 0; l < 12; ++l) {
      for (std::size_t t = 0; t < 2500; ++t) {
        b.signals(s, l, t) = static_cast<float>(std::sin(0.01 * static_cast<double>(t * (s + 1)) + 0.2 * static_cast<double>(l)) +
                                                0.2 * noise.normal((s * 12 + l) * 2500 + t));
      }
    }
  }
  b.meta.resize(3);
  return b;
}

double loss_with(encoder_t& encoder, ecgssl::identical_negatives mode, const ecgssl::data::batch& b) {
  ecgssl::pipeline::w2v_cmsc_criterion<double, false> criterion(0.1, 10.0, 3);
  criterion.set_identical_negatives(mode);
  encoder.set_step(3, 7);  // the same span mask, dropout and Gumbel noise for every mode
  return criterion.run(encoder, b, 7).loss_sum;
}

}  // namespace

TEST_CASE("w2v_cmsc_criterion: by_code masks exactly the negatives by_value masks") {
  encoder_t encoder;
  ecgssl::parameter_store<double> store;
  encoder.declare_parameters(store);
  store.allocate();
  encoder.initialize(ecgssl::random_stream(11, 1));
  encoder.set_training(true);
  encoder.set_num_updates(0);
  const auto b = synthetic_batch();

  const double by_value = loss_with(encoder, ecgssl::identical_negatives::by_value, b);
  // The codes the encoder reported: equal codes <=> bitwise-equal targets, row by row.
  const auto& out = encoder.last_outputs();
  const std::size_t rows = out.masked_rows.size(), dim = out.targets.shape()[1];
  REQUIRE(out.target_codes.size() == rows);
  REQUIRE(out.masked_per_sample >= 2);
  std::size_t equal_pairs = 0, different_pairs = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    CHECK(out.target_codes[i] >= 0);
    CHECK(out.target_codes[i] < 4);
    for (std::size_t j = i + 1; j < rows; ++j) {
      bool same = true;
      for (std::size_t k = 0; k < dim; ++k) same = same && out.targets(i, k) == out.targets(j, k);
      CHECK(same == (out.target_codes[i] == out.target_codes[j]));
      (same ? equal_pairs : different_pairs) += 1;
    }
  }
  REQUIRE(equal_pairs > 0);  // the rule has something to mask
  REQUIRE(different_pairs > 0);

  const double by_code = loss_with(encoder, ecgssl::identical_negatives::by_code, b);
  const double keep = loss_with(encoder, ecgssl::identical_negatives::keep, b);
  CHECK(by_code == by_value);
  CHECK(keep != by_value);  // keeping the equal negatives changes the loss
}

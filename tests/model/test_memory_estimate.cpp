#include <ecgssl/model/memory_estimate.hpp>

#include <doctest/doctest.h>

#include <string>

using ecgssl::model::ecg_transformer_options;
using ecgssl::model::training_bytes_lower_bound;

TEST_CASE("the training memory bound counts what backward reads, per segment, on top of 16 bytes a parameter") {
  ecg_transformer_options o;
  o.conv_dim = 2;
  o.conv_layers = 1;
  o.conv_kernel = 2;
  o.conv_stride = 2;
  o.embed_dim = 4;
  o.layers = 1;
  o.heads = 1;
  o.ffn_dim = 8;
  o.final_dim = 3;
  o.mask_prob = 0.5;
  // 10 samples -> 5 frames. Conv: 3 tensors of 2 x 5. Layer: 6 of 5 x 4, 2 of 5 x 8, 1 of 5 x 5.
  // Heads: 2.5 masked frames x (2 negatives + 1) x 3. In floats of 4 bytes.
  const double per_segment = 4.0 * (3 * 2 * 5 + (6 * 5 * 4 + 2 * 5 * 8 + 1 * 5 * 5) + 2.5 * 3 * 3);
  const double fixed = training_bytes_lower_bound(o, 0, 10, 2);
  CHECK(fixed == doctest::Approx(16.0 * ecgssl::model::encoder_config::estimated_parameters(o)));
  CHECK(training_bytes_lower_bound(o, 3, 10, 2) - fixed == doctest::Approx(3 * per_segment));
  o.pretraining_heads = false;  // fine-tuning: no contrastive candidates
  CHECK(training_bytes_lower_bound(o, 1, 10, 2) - fixed == doctest::Approx(per_segment - 4.0 * 2.5 * 3 * 3));
}

TEST_CASE("a batch that cannot fit is refused naming the option and both sizes") {
  const auto base = ecgssl::model::base_config<float>::options();
  CHECK_NOTHROW(ecgssl::model::require_training_fits(base, 16, "--batch-pairs", 100, 64.0 * (1ull << 30)));
  try {
    ecgssl::model::require_training_fits(base, 100000, "--batch-pairs", 100, 64.0 * (1ull << 30));
    FAIL("100000 base segments fitted in 64 GiB");
  } catch (const ecgssl::config_error& e) {
    const std::string m = e.what();
    CHECK(m.find("field '--batch-pairs'") != std::string::npos);
    CHECK(m.find("100000 segments per micro-batch need at least") != std::string::npos);
    CHECK(m.find("65536 MiB") != std::string::npos);
  }
  CHECK(ecgssl::model::usable_memory_bytes() > 0);
}

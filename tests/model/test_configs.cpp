// The named encoder sizes and the defaults of ecg_transformer_options against the spec's numbers
// (spec §3.3-§3.11), written out here rather than read from the code under test.
#include <doctest/doctest.h>

#include <ecgssl/model/configs.hpp>

#include <type_traits>

using namespace ecgssl::model;

TEST_CASE("configs: tiny small and base have the sizes of the spec") {
  struct expected { std::size_t c, d, l, h, f; };
  const auto check = [](const ecg_transformer_options& o, expected e) {
    CHECK(o.conv_dim == e.c);
    CHECK(o.embed_dim == e.d);
    CHECK(o.layers == e.l);
    CHECK(o.heads == e.h);
    CHECK(o.ffn_dim == e.f);
  };
  check(tiny_config<>::options(), {128, 128, 2, 4, 512});
  check(small_config<>::options(), {256, 256, 4, 4, 1024});
  check(base_config<>::options(), {256, 768, 12, 12, 3072});
  static_assert(std::is_same_v<tiny_config<double>::scalar_type, double>);
  static_assert(std::is_same_v<base_config<>::backend_type, ecgssl::host>);
}

TEST_CASE("configs: defaults are the pre-training settings of the reference") {
  const ecg_transformer_options o;
  CHECK(o.in_channels == 12);
  CHECK(o.conv_layers == 4);  // four (k = s = 2) blocks: 2500 samples -> 156 frames
  CHECK(o.conv_kernel == 2);
  CHECK(o.conv_stride == 2);
  CHECK(o.mode == extractor_mode::group_norm_first);
  CHECK(o.pos_kernel == 128);
  CHECK(o.pos_groups == 16);
  CHECK_FALSE(o.layer_norm_first);
  CHECK(o.dropout == 0.1);
  CHECK(o.attention_dropout == 0.1);
  CHECK(o.activation_dropout == 0.0);
  CHECK(o.dropout_input == 0.1);
  CHECK(o.dropout_features == 0.1);
  CHECK(o.feature_grad_mult == 0.1);
  CHECK(o.mask_prob == 0.65);
  CHECK(o.mask_length == 10);
  CHECK(o.min_masks == 2);
  CHECK(o.final_dim == 256);
  CHECK(o.latent_vars == 320);
  CHECK(o.latent_groups == 2);
  CHECK(o.max_temp == 2.0);
  CHECK(o.min_temp == 0.5);
  CHECK(o.temp_decay == 0.999995);
}

#include <ecgssl/nn/span_mask.hpp>

#include <doctest/doctest.h>
#include <support/gradient_check.hpp>

#include <set>

namespace {
using ecgssl::tensor;
using mask_t = ecgssl::nn::span_mask<double>;
static_assert(ecgssl::layer<mask_t>);
static_assert(ecgssl::layer<ecgssl::nn::span_mask<float>>);

std::size_t count_row(const tensor<std::uint8_t, 2>& m, std::size_t b) {
  std::size_t c = 0;
  for (std::size_t t = 0; t < m.shape()[1]; ++t) c += m(b, t);
  return c;
}
}  // namespace

TEST_CASE("span masks: every sample has the same masked count, bounded by the span arithmetic") {
  const ecgssl::nn::span_mask_options opt{.dim = 4};  // 0.65, span 10, min 2
  double total_fraction = 0;
  const int batches = 40;
  for (int step = 0; step < batches; ++step) {
    const ecgssl::random_stream rng(5, ecgssl::stream_id({2, std::uint64_t(step)}));
    const auto m = ecgssl::nn::compute_span_mask(16, 156, opt, rng);
    const auto c0 = count_row(m, 0);
    for (std::size_t b = 1; b < 16; ++b) CHECK(count_row(m, b) == c0);
    // 10 or 11 spans of 10 frames: at least one span, at most 110 frames
    CHECK(c0 >= 10);
    CHECK(c0 <= 110);
    total_fraction += double(c0) / 156.0;
    // determinism: the same stream gives the same mask
    CHECK(ecgssl::nn::compute_span_mask(16, 156, opt, rng) == m);
  }
  // Spec §3.5 simulation: about 36-37 % masked after trimming at 64-128 segments (49.5 % before);
  // with 16 segments the smallest union is larger; the mean must lie well between.
  const double mean = total_fraction / batches;
  CHECK(mean > 0.33);
  CHECK(mean < 0.48);
}

TEST_CASE("span masks consist of spans of mask_length when nothing is trimmed") {
  // a batch of one is never trimmed: the mask is a union of num_mask spans of length 10
  const ecgssl::nn::span_mask_options opt{.dim = 4};
  for (int step = 0; step < 20; ++step) {
    const auto m = ecgssl::nn::compute_span_mask(1, 156, opt, ecgssl::random_stream(9, std::uint64_t(step)));
    // every maximal run of masked frames has length >= 10 and runs never reach past the end
    std::size_t run = 0;
    for (std::size_t t = 0; t <= 156; ++t) {
      if (t < 156 && m(0, t)) {
        ++run;
      } else {
        if (run > 0) CHECK(run >= 10);
        run = 0;
      }
    }
    const auto c = count_row(m, 0);
    CHECK(c >= 10);
    CHECK(c <= 110);
  }
  // too few frames for the spans is a typed error, not a hang
  CHECK_THROWS_AS(ecgssl::nn::compute_span_mask(2, 3, opt, ecgssl::random_stream(1, 1)), ecgssl::data_error);
}

TEST_CASE("mask embedding replaces masked frames; gradients match finite differences") {
  ecgssl::parameter_store<double> store;
  mask_t layer({.dim = 3});
  layer.declare_parameters(store, "");
  REQUIRE(store.find("mask_emb") != nullptr);
  store.allocate();
  layer.initialize(ecgssl::random_stream(3, 4));
  for (double v : store.values("mask_emb")) {
    CHECK(v >= 0.0);
    CHECK(v < 1.0);
  }
  tensor<std::uint8_t, 2> mask = {{0, 1, 1, 0}, {1, 0, 0, 1}};
  layer.set_mask(mask);
  tensor<double, 3> x = tensor<double, 3>::from_shape({2, 4, 3});
  ecgssl::testing::fill_uniform(std::span<double>(x.data(), x.size()), 5);
  tensor<double, 3> y;
  layer.forward(x, y);
  auto emb = store.values("mask_emb");
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t t = 0; t < 4; ++t)
      for (std::size_t c = 0; c < 3; ++c) CHECK(y(b, t, c) == (mask(b, t) ? emb[c] : x(b, t, c)));
  for (const auto& r : ecgssl::testing::check_layer(layer, store, x)) {
    INFO(r.where);
    CHECK(r.max_relative_error < 1e-8);
  }
  layer.set_training(false);
  layer.forward(x, y);
  CHECK(y == x);
}

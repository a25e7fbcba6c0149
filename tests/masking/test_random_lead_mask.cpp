#include <ecgssl/core/concepts.hpp>
#include <ecgssl/masking/random_lead_mask.hpp>

#include <doctest/doctest.h>

#include <bit>
#include <cmath>

using ecgssl::random_stream;
using ecgssl::tensor;
using ecgssl::masking::random_lead_mask;

static_assert(ecgssl::masking_policy<random_lead_mask>);

namespace {
tensor<float, 2> ramp(std::size_t leads, std::size_t samples) {
  tensor<float, 2> x = tensor<float, 2>::from_shape({leads, samples});
  for (std::size_t l = 0; l < leads; ++l)
    for (std::size_t t = 0; t < samples; ++t) x(l, t) = 1.0f + static_cast<float>(l * 100 + t);
  return x;
}
random_stream segment_stream(std::uint64_t segment) {
  return random_stream(42, ecgssl::stream_id({static_cast<std::uint64_t>(ecgssl::rng_purpose::lead_mask), 0, segment}));
}
}  // namespace

TEST_CASE("RLM zeroes exactly the leads whose draw is below p and never rescales the rest") {
  const random_lead_mask rlm;
  CHECK(rlm.mask_probability() == 0.5);
  const auto original = ramp(12, 7);
  for (std::uint64_t s = 0; s < 50; ++s) {
    auto x = original;
    const auto rng = segment_stream(s);
    const auto kept = rlm.apply(x, rng);
    for (std::size_t l = 0; l < 12; ++l) {
      const bool keep = rng.uniform(l) >= 0.5;  // the rule of spec §3.2, evaluated directly
      CHECK(((kept >> l) & 1u) == (keep ? 1u : 0u));
      for (std::size_t t = 0; t < 7; ++t) CHECK(x(l, t) == (keep ? original(l, t) : 0.0f));
    }
    CHECK((kept >> 12) == 0u);
  }
}

TEST_CASE("RLM keeps each lead with probability 1-p independently") {
  const random_lead_mask rlm(0.5);
  const int trials = 20000;
  std::array<int, 12> kept_count{};
  int pair_both = 0;  // leads 0 and 1 both kept
  double kept_total = 0;
  for (int s = 0; s < trials; ++s) {
    tensor<float, 2> x = tensor<float, 2>::from_shape({12, 1});
    x.fill(1.0f);
    const auto kept = rlm.apply(x, segment_stream(static_cast<std::uint64_t>(s)));
    for (std::size_t l = 0; l < 12; ++l) kept_count[l] += (kept >> l) & 1u;
    pair_both += ((kept & 3u) == 3u);
    kept_total += std::popcount(kept);
  }
  // Binomial(20000, 0.5): sd = 70.7; allow 5 sd.
  for (auto c : kept_count) CHECK(std::abs(c - trials / 2) < 354);
  // Independence: P(both) = 0.25, sd = sqrt(20000*0.25*0.75) = 61.2.
  CHECK(std::abs(pair_both - trials / 4) < 306);
  CHECK(kept_total / trials == doctest::Approx(6.0).epsilon(0.02));
}

TEST_CASE("RLM uses the actual lead count and other probabilities") {
  const random_lead_mask rlm(0.25);
  int kept_leads = 0;
  const int trials = 4000;
  for (int s = 0; s < trials; ++s) {
    auto x = ramp(2, 3);
    const auto kept = rlm.apply(x, segment_stream(static_cast<std::uint64_t>(s)));
    CHECK((kept & ~3u) == 0u);
    kept_leads += std::popcount(kept);
  }
  // Expected 0.75 * 2 * 4000 = 6000, sd = sqrt(8000*0.1875) = 38.7.
  CHECK(std::abs(kept_leads - 6000) < 200);
  auto all = ramp(3, 2);
  CHECK(random_lead_mask(0.0).apply(all, segment_stream(1)) == 7u);
  CHECK(random_lead_mask(1.0).apply(all, segment_stream(1)) == 0u);
  for (auto v : all) CHECK(v == 0.0f);
}

TEST_CASE("RLM is reproducible per stream and differs between segments") {
  const random_lead_mask rlm;
  auto a = ramp(12, 4);
  auto b = ramp(12, 4);
  CHECK(rlm.apply(a, segment_stream(3)) == rlm.apply(b, segment_stream(3)));
  CHECK(a == b);
  int differ = 0;
  for (std::uint64_t s = 0; s < 32; ++s) {
    auto x = ramp(12, 1);
    auto y = ramp(12, 1);
    differ += rlm.apply(x, segment_stream(2 * s)) != rlm.apply(y, segment_stream(2 * s + 1));
  }
  CHECK(differ > 28);
}

TEST_CASE("RLM rejects bad probabilities and too many leads") {
  CHECK_THROWS_AS(random_lead_mask(-0.1), ecgssl::config_error);
  CHECK_THROWS_AS(random_lead_mask(1.5), ecgssl::config_error);
  CHECK_THROWS_AS(random_lead_mask(std::nan("")), ecgssl::config_error);
  auto x = ramp(33, 1);
  CHECK_THROWS_AS(random_lead_mask().apply(x, segment_stream(0)), ecgssl::shape_error);
}

// Tests of signal/random_time_mask.hpp (3KG's per-lead time masking, spec §4.5).
#include <ecgssl/signal/random_time_mask.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace ecgssl;
using namespace ecgssl::signal;

static_assert(signal_transform<random_time_mask>);

namespace {

tensor<float, 2> ones(std::size_t leads, std::size_t samples) {
  auto x = tensor<float, 2>::from_shape({leads, samples});
  x.fill(1.0f);
  return x;
}

tensor<float, 2> masked(const random_time_mask& m, std::size_t leads, std::size_t samples, std::uint64_t seed,
                        std::uint64_t stream = 0) {
  auto x = ones(leads, samples);
  signal_context ctx;
  ctx.rng = random_stream(seed, stream);
  m.apply(x, ctx);
  return x;
}

/// The zero samples of one lead form one circular run: returns its start (or -1 if none).
long circular_run_start(const tensor<float, 2>& x, std::size_t lead) {
  const std::size_t n = x.shape()[1];
  long start = -1;
  std::size_t starts = 0;
  for (std::size_t t = 0; t < n; ++t) {
    const bool zero = x(lead, t) == 0.0f;
    const bool prev_zero = x(lead, (t + n - 1) % n) == 0.0f;
    if (zero && !prev_zero) {
      start = static_cast<long>(t);
      ++starts;
    }
  }
  CHECK(starts <= 1);
  return start;
}

}  // namespace

TEST_CASE("time mask: every lead loses one circular window of floor(n * ratio) samples") {
  const random_time_mask m;  // ratio 0.5
  std::vector<int> starts_hist(10, 0);
  int wrapped = 0;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const auto x = masked(m, 12, 2500, seed);
    for (std::size_t l = 0; l < 12; ++l) {
      std::size_t zeros = 0;
      for (std::size_t t = 0; t < 2500; ++t) zeros += x(l, t) == 0.0f;
      CHECK(zeros == 1250);
      const long s = circular_run_start(x, l);
      REQUIRE(s >= 0);
      ++starts_hist[static_cast<std::size_t>(s) / 250];
      wrapped += s + 1250 > 2500;
      std::size_t outside_window = 0;  // samples whose state disagrees with the window [s, s + 1250) mod n
      for (std::size_t t = 0; t < 2500; ++t) {
        const bool inside = (t + 2500 - static_cast<std::size_t>(s)) % 2500 < 1250;
        outside_window += (x(l, t) == 0.0f) != inside;
      }
      CHECK(outside_window == 0);
    }
  }
  // starts ~ U{0..n-1}: 2400 starts, 240 expected per tenth (sd 15); about half the windows wrap
  for (int count : starts_hist) CHECK(std::abs(count - 240) < 80);
  CHECK(std::abs(wrapped - 1200) < 150);
  // odd length: floor(7 * 0.5) = 3 zeros per lead
  const auto odd = masked(m, 2, 7, 1);
  for (std::size_t l = 0; l < 2; ++l) {
    std::size_t zeros = 0;
    for (std::size_t t = 0; t < 7; ++t) zeros += odd(l, t) == 0.0f;
    CHECK(zeros == 3);
  }
}

TEST_CASE("time mask: the leads get independent windows; seed and stream decide them") {
  const random_time_mask m(0.25);
  const auto a = masked(m, 12, 1000, 3, 9), b = masked(m, 12, 1000, 3, 9), c = masked(m, 12, 1000, 3, 10);
  CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  CHECK(!std::equal(a.begin(), a.end(), c.begin(), c.end()));
  std::vector<long> starts;
  for (std::size_t l = 0; l < 12; ++l) starts.push_back(circular_run_start(a, l));
  std::sort(starts.begin(), starts.end());
  CHECK(std::unique(starts.begin(), starts.end()) - starts.begin() > 6);
}

TEST_CASE("time mask: ratio 0 changes nothing, ratio 1 zeroes everything, bad ratios are refused") {
  const auto none = masked(random_time_mask(0.0), 12, 100, 1);
  for (float v : none) CHECK(v == 1.0f);
  const auto all = masked(random_time_mask(1.0), 12, 100, 1);
  for (float v : all) CHECK(v == 0.0f);
  CHECK_THROWS_WITH_AS(random_time_mask(1.5), doctest::Contains("mask_ratio"), config_error);
  CHECK_THROWS_AS(random_time_mask(-0.1), config_error);
  CHECK_THROWS_AS(random_time_mask(std::nan("")), config_error);
}

#include <ecgssl/core/philox.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <set>

using ecgssl::philox4x32_10;

// Known-answer vectors of Philox4x32-10 published with Random123 (kat_vectors), independent of
// this implementation.
TEST_CASE("philox4x32_10 reproduces the Random123 known-answer vectors") {
  using words = std::array<std::uint32_t, 4>;
  CHECK(philox4x32_10({0, 0, 0, 0}, {0, 0}) == words{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  CHECK(philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}) ==
        words{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  CHECK(philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}) ==
        words{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("a random_stream is a pure function of seed, stream and index") {
  const ecgssl::random_stream a(42, 7);
  const ecgssl::random_stream b(42, 7);
  const ecgssl::random_stream other_stream(42, 8);
  const ecgssl::random_stream other_seed(43, 7);
  int differ_stream = 0;
  int differ_seed = 0;
  for (std::uint64_t i = 0; i < 64; ++i) {
    CHECK(a.bits(i) == b.bits(i));
    differ_stream += a.bits(i) != other_stream.bits(i);
    differ_seed += a.bits(i) != other_seed.bits(i);
  }
  CHECK(differ_stream > 60);
  CHECK(differ_seed > 60);
  // Reading out of order gives the same values.
  const auto late = a.bits(1001);
  CHECK(a.bits(3) == b.bits(3));
  CHECK(b.bits(1001) == late);
}

TEST_CASE("uniform draws lie in the unit interval with the right mean and variance") {
  const ecgssl::random_stream s(1, 2);
  const int n = 200000;
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < n; ++i) {
    const double u = s.uniform(static_cast<std::uint64_t>(i));
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
    sum_sq += u * u;
  }
  const double mean = sum / n;
  const double var = sum_sq / n - mean * mean;
  CHECK(mean == doctest::Approx(0.5).epsilon(0.01));
  CHECK(var == doctest::Approx(1.0 / 12.0).epsilon(0.02));
  for (int i = 0; i < 1000; ++i) {
    const float f = s.uniform_float(static_cast<std::uint64_t>(i));
    CHECK(f >= 0.0f);
    CHECK(f < 1.0f);
  }
}

TEST_CASE("normal and gumbel draws have their textbook moments") {
  const ecgssl::random_stream s(3, 4);
  const int n = 200000;
  double sum = 0, sum_sq = 0, gsum = 0;
  for (int i = 0; i < n; ++i) {
    const double z = s.normal(static_cast<std::uint64_t>(i));
    sum += z;
    sum_sq += z * z;
    gsum += s.gumbel(static_cast<std::uint64_t>(i));
  }
  CHECK(std::abs(sum / n) < 0.01);
  CHECK(sum_sq / n == doctest::Approx(1.0).epsilon(0.02));
  CHECK(gsum / n == doctest::Approx(0.5772156649).epsilon(0.02));  // Euler-Mascheroni constant
}

TEST_CASE("below(n) covers 0 to n-1 uniformly") {
  const ecgssl::random_stream s(9, 9);
  std::array<int, 12> counts{};
  const int n = 120000;
  for (int i = 0; i < n; ++i) {
    const auto v = s.below(static_cast<std::uint64_t>(i), 12);
    REQUIRE(v < 12u);
    ++counts[v];
  }
  for (int c : counts) CHECK(c == doctest::Approx(n / 12.0).epsilon(0.05));
}

TEST_CASE("stream_id separates purposes and is order sensitive") {
  using ecgssl::stream_id;
  std::set<std::uint64_t> ids;
  for (std::uint64_t purpose = 1; purpose <= 4; ++purpose)
    for (std::uint64_t step = 0; step < 50; ++step)
      for (std::uint64_t sample = 0; sample < 50; ++sample) ids.insert(stream_id({purpose, step, sample}));
  CHECK(ids.size() == 4u * 50u * 50u);
  CHECK(stream_id({1, 2}) != stream_id({2, 1}));
}

TEST_CASE("philox_engine resumes from a stored position") {
  ecgssl::philox_engine e(5, 6);
  for (int i = 0; i < 10; ++i) e();
  ecgssl::philox_engine resumed(5, 6, e.position());
  for (int i = 0; i < 10; ++i) CHECK(e() == resumed());
}

// The vectorised sixteen-block generator must equal the scalar one (itself checked against the
// Random123 vectors above), including across the 2^32 carry of the block counter.
TEST_CASE("philox_blocks16 gives the scalar blocks bit for bit") {
  const ecgssl::random_stream streams[] = {ecgssl::random_stream(0, 0), ecgssl::random_stream(7, 0x123456789abcdefull),
                                           ecgssl::random_stream(0xffffffffffffffffull, 42)};
  const std::uint64_t firsts[] = {0, 5, 0xfffffff8ull, 0x1234567890ull};
  for (const auto& rng : streams) {
    for (auto first : firsts) {
      std::uint32_t words[4][16];
      ecgssl::philox_blocks16(rng, first, words);
      for (int l = 0; l < 16; ++l) {
        const auto expected = rng.block(first + static_cast<std::uint64_t>(l));
        for (int w = 0; w < 4; ++w) CHECK(words[w][l] == expected[static_cast<std::size_t>(w)]);
      }
    }
  }
}

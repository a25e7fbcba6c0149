#pragma once
/// \file philox.hpp
/// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11 "Parallel random numbers:
/// as easy as 1, 2, 3"). A value is a pure function of (seed, stream, counter), so augmentation,
/// masking and dropout draw the same numbers whatever the thread schedule: give each
/// (purpose, step, sample) its own stream and index the draws within it.

#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <numbers>

#include "config.hpp"

namespace ecgssl {

/// The raw Philox4x32-10 bijection: 128-bit counter, 64-bit key -> 128 random bits.
ECGSSL_HOST_DEVICE inline std::array<std::uint32_t, 4> philox4x32_10(
    std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key) {
  constexpr std::uint32_t multiplier0 = 0xD2511F53u;
  constexpr std::uint32_t multiplier1 = 0xCD9E8D57u;
  constexpr std::uint32_t weyl0 = 0x9E3779B9u;
  constexpr std::uint32_t weyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t product0 = static_cast<std::uint64_t>(multiplier0) * counter[0];
    const std::uint64_t product1 = static_cast<std::uint64_t>(multiplier1) * counter[2];
    const auto hi0 = static_cast<std::uint32_t>(product0 >> 32);
    const auto lo0 = static_cast<std::uint32_t>(product0);
    const auto hi1 = static_cast<std::uint32_t>(product1 >> 32);
    const auto lo1 = static_cast<std::uint32_t>(product1);
    counter = {hi1 ^ counter[1] ^ key[0], lo1, hi0 ^ counter[3] ^ key[1], lo0};
    key[0] += weyl0;
    key[1] += weyl1;
  }
  return counter;
}

/// SplitMix64 finaliser: spreads structured ids (purpose, step, sample) over 64 bits.
ECGSSL_HOST_DEVICE constexpr std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Derives one stream id from a list of ids, e.g. `stream_id({purpose::dropout, step, sample})`.
constexpr std::uint64_t stream_id(std::initializer_list<std::uint64_t> parts) {
  std::uint64_t h = 0x6A09E667F3BCC909ull;
  for (auto part : parts) h = mix64(h ^ mix64(part));
  return h;
}

/// Well-known purposes, so two components never share a stream by accident.
enum class rng_purpose : std::uint64_t {
  lead_mask = 1,
  span_mask = 2,
  dropout = 3,
  gumbel = 4,
  negatives = 5,
  augmentation = 6,
  shuffle = 7,
  crop = 8,
  init = 9,
  user = 1000,
};

/// A stream of random numbers: draw `i` is a pure function of (seed, stream, i).
class random_stream {
 public:
  ECGSSL_HOST_DEVICE constexpr random_stream(std::uint64_t seed, std::uint64_t stream)
      : seed_(seed), stream_(stream) {}

  /// Four 32-bit words for block `block` (draws 4*block .. 4*block+3).
  [[nodiscard]] ECGSSL_HOST_DEVICE std::array<std::uint32_t, 4> block(std::uint64_t block) const {
    return philox4x32_10({static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                          static_cast<std::uint32_t>(stream_),
                          static_cast<std::uint32_t>(stream_ >> 32)},
                         {static_cast<std::uint32_t>(seed_), static_cast<std::uint32_t>(seed_ >> 32)});
  }

  /// 32 random bits at index `i`.
  [[nodiscard]] ECGSSL_HOST_DEVICE std::uint32_t bits(std::uint64_t i) const {
    return block(i >> 2)[i & 3u];
  }

  /// Uniform float in [0, 1) with 24 random bits.
  [[nodiscard]] ECGSSL_HOST_DEVICE float uniform_float(std::uint64_t i) const {
    return static_cast<float>(bits(i) >> 8) * 0x1.0p-24f;
  }

  /// Uniform double in [0, 1) with 53 random bits (uses draws 2i and 2i+1).
  [[nodiscard]] ECGSSL_HOST_DEVICE double uniform(std::uint64_t i) const {
    const auto words = block(i >> 1);
    const unsigned offset = static_cast<unsigned>(i & 1u) * 2u;
    const std::uint64_t hi = words[offset] >> 5;      // 27 bits
    const std::uint64_t lo = words[offset + 1] >> 6;  // 26 bits
    return static_cast<double>((hi << 26) | lo) * 0x1.0p-53;
  }

  /// Uniform double in (0, 1]: safe to take a logarithm of.
  [[nodiscard]] ECGSSL_HOST_DEVICE double uniform_open_zero(std::uint64_t i) const {
    return 1.0 - uniform(i);
  }

  /// Standard normal (Box-Muller over uniforms 2i, 2i+1; the cosine branch).
  [[nodiscard]] ECGSSL_HOST_DEVICE double normal(std::uint64_t i) const {
    const double u1 = uniform_open_zero(2 * i);
    const double u2 = uniform(2 * i + 1);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

  /// Standard Gumbel sample -log(-log(u)), u in (0, 1).
  [[nodiscard]] ECGSSL_HOST_DEVICE double gumbel(std::uint64_t i) const {
    double u = uniform(i);
    if (u <= 0.0) u = 0x1.0p-53;
    return -std::log(-std::log(u));
  }

  /// Uniform integer in [0, n) by Lemire's multiply-shift (bias < n / 2^32, negligible for the
  /// small n used here: lead counts, frame counts, record counts below 2^20).
  [[nodiscard]] ECGSSL_HOST_DEVICE std::uint32_t below(std::uint64_t i, std::uint32_t n) const {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(bits(i)) * n) >> 32);
  }

  [[nodiscard]] ECGSSL_HOST_DEVICE constexpr std::uint64_t seed() const { return seed_; }
  [[nodiscard]] ECGSSL_HOST_DEVICE constexpr std::uint64_t stream() const { return stream_; }

 private:
  std::uint64_t seed_;
  std::uint64_t stream_;
};

/// Sixteen consecutive Philox blocks at once: words[w][l] = rng.block(first + l)[w], bit for bit.
/// The lanes are independent and written as plain loops over arrays, so the compiler keeps
/// them in vector registers (16 x 32-bit = one AVX-512 register): bulk draws (dropout masks)
/// cost a fraction of sixteen scalar calls. Host only.
inline void philox_blocks16(const random_stream& rng, std::uint64_t first, std::uint32_t (&words)[4][16]) {
  constexpr int lanes = 16;
  constexpr std::uint32_t multiplier0 = 0xD2511F53u;
  constexpr std::uint32_t multiplier1 = 0xCD9E8D57u;
  std::uint32_t c0[lanes], c1[lanes], c2[lanes], c3[lanes];
  const auto stream_lo = static_cast<std::uint32_t>(rng.stream());
  const auto stream_hi = static_cast<std::uint32_t>(rng.stream() >> 32);
  for (int l = 0; l < lanes; ++l) {
    const std::uint64_t block = first + static_cast<std::uint64_t>(l);
    c0[l] = static_cast<std::uint32_t>(block);
    c1[l] = static_cast<std::uint32_t>(block >> 32);
    c2[l] = stream_lo;
    c3[l] = stream_hi;
  }
  std::uint32_t key0 = static_cast<std::uint32_t>(rng.seed());
  std::uint32_t key1 = static_cast<std::uint32_t>(rng.seed() >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int l = 0; l < lanes; ++l) {
      const std::uint64_t product0 = static_cast<std::uint64_t>(multiplier0) * c0[l];
      const std::uint64_t product1 = static_cast<std::uint64_t>(multiplier1) * c2[l];
      const auto n0 = static_cast<std::uint32_t>(product1 >> 32) ^ c1[l] ^ key0;
      const auto n2 = static_cast<std::uint32_t>(product0 >> 32) ^ c3[l] ^ key1;
      c1[l] = static_cast<std::uint32_t>(product1);
      c3[l] = static_cast<std::uint32_t>(product0);
      c0[l] = n0;
      c2[l] = n2;
    }
    key0 += 0x9E3779B9u;
    key1 += 0xBB67AE85u;
  }
  for (int l = 0; l < lanes; ++l) {
    words[0][l] = c0[l];
    words[1][l] = c1[l];
    words[2][l] = c2[l];
    words[3][l] = c3[l];
  }
}

/// A sequential engine over a random_stream, satisfying std::uniform_random_bit_generator, for
/// code that wants `std::shuffle` and friends. Its position is part of its state: store
/// `position()` to resume it exactly.
class philox_engine {
 public:
  using result_type = std::uint32_t;
  philox_engine(std::uint64_t seed, std::uint64_t stream, std::uint64_t position = 0)
      : stream_(seed, stream), position_(position) {}

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()() { return stream_.bits(position_++); }

  double uniform() { return stream_.uniform(position_++); }
  [[nodiscard]] std::uint64_t position() const { return position_; }
  [[nodiscard]] const random_stream& stream() const { return stream_; }

 private:
  random_stream stream_;
  std::uint64_t position_;
};

}  // namespace ecgssl

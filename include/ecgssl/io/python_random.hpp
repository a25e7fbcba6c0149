#pragma once
/// \file python_random.hpp
/// An exact re-implementation of CPython's `random.Random` for the few calls the reference
/// preprocessing makes (spec §2.4: `random.Random(42).shuffle(...)` for the 8:1:1 split and
/// `.random()` per identity for identification manifests), so ecgssl can reproduce the
/// reference's splits bit for bit.
///
/// CPython's generator is MT19937 (Matsumoto & Nishimura 1998) seeded with `init_by_array` on the
/// 32-bit little-endian words of |seed| (one word 0 for seed 0), not with `init_genrand`, which is
/// why std::mt19937(42) gives other numbers. On top of it:
///  - random() = (a * 2^26 + b) / 2^53 with a = next >> 5, b = next >> 6;
///  - getrandbits(k), k <= 32, = next >> (32 - k);
///  - randbelow(n) = rejection sampling of getrandbits(bit_length(n)) until < n;
///  - shuffle(x): for i = len-1 down to 1: swap x[i], x[randbelow(i + 1)].
/// These are the algorithms of CPython 3.2 and later (checked against Python 3.11 output in
/// tests/io/test_python_random.cpp).

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"

namespace ecgssl::io {

/// CPython-compatible Mersenne Twister.
class python_random {
 public:
  explicit python_random(std::uint64_t seed = 42) { this->seed(seed); }

  /// random.seed(n) for a non-negative integer n < 2^64.
  void seed(std::uint64_t n) {
    std::vector<std::uint32_t> key;
    while (n != 0) {
      key.push_back(static_cast<std::uint32_t>(n));
      n >>= 32;
    }
    if (key.empty()) key.push_back(0);
    init_by_array(key);
  }

  /// Next 32-bit output of MT19937.
  std::uint32_t next_u32() {
    if (index_ >= state_size) twist();
    std::uint32_t y = state_[index_++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
  }

  /// random.random(): uniform double in [0, 1) with 53 bits.
  double random() {
    const std::uint32_t a = next_u32() >> 5;
    const std::uint32_t b = next_u32() >> 6;
    return (static_cast<double>(a) * 67108864.0 + static_cast<double>(b)) * (1.0 / 9007199254740992.0);
  }

  /// random.getrandbits(k) for 1 <= k <= 32.
  std::uint32_t getrandbits(unsigned k) {
    if (k == 0 || k > 32) throw config_error(at_field("k"), std::to_string(k), "1..32 bits");
    return next_u32() >> (32 - k);
  }

  /// random._randbelow(n): uniform integer in [0, n), n in [1, 2^32).
  std::uint32_t randbelow(std::uint64_t n) {
    if (n == 0 || n > 0xFFFFFFFFull) throw config_error(at_field("n"), std::to_string(n), "1 <= n < 2^32");
    const auto k = static_cast<unsigned>(std::bit_width(n));
    std::uint32_t r = getrandbits(k);
    while (r >= n) r = getrandbits(k);
    return r;
  }

  /// random.shuffle(x) in place.
  template <class T>
  void shuffle(std::vector<T>& x) {
    for (std::size_t i = x.size(); i-- > 1;) {
      const std::size_t j = randbelow(i + 1);
      using std::swap;
      swap(x[i], x[j]);
    }
  }

 private:
  static constexpr std::size_t state_size = 624;
  static constexpr std::size_t shift_size = 397;

  void init_genrand(std::uint32_t s) {
    state_[0] = s;
    for (std::size_t i = 1; i < state_size; ++i) {
      state_[i] = 1812433253u * (state_[i - 1] ^ (state_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
    }
    index_ = state_size;
  }

  void init_by_array(const std::vector<std::uint32_t>& key) {
    init_genrand(19650218u);
    std::size_t i = 1;
    std::size_t j = 0;
    for (std::size_t k = std::max(state_size, key.size()); k > 0; --k) {
      state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1664525u)) + key[j] +
                  static_cast<std::uint32_t>(j);
      ++i;
      ++j;
      if (i >= state_size) {
        state_[0] = state_[state_size - 1];
        i = 1;
      }
      if (j >= key.size()) j = 0;
    }
    for (std::size_t k = state_size - 1; k > 0; --k) {
      state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1566083941u)) - static_cast<std::uint32_t>(i);
      ++i;
      if (i >= state_size) {
        state_[0] = state_[state_size - 1];
        i = 1;
      }
    }
    state_[0] = 0x80000000u;
    index_ = state_size;
  }

  void twist() {
    constexpr std::uint32_t upper = 0x80000000u;
    constexpr std::uint32_t lower = 0x7fffffffu;
    constexpr std::uint32_t matrix = 0x9908b0dfu;
    for (std::size_t k = 0; k < state_size; ++k) {
      const std::uint32_t y = (state_[k] & upper) | (state_[(k + 1) % state_size] & lower);
      state_[k] = state_[(k + shift_size) % state_size] ^ (y >> 1) ^ ((y & 1u) ? matrix : 0u);
    }
    index_ = 0;
  }

  std::array<std::uint32_t, state_size> state_{};
  std::size_t index_ = state_size;
};

}  // namespace ecgssl::io

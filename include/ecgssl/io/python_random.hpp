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
#include "detail/mersenne_twister.hpp"

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
    mt_.init_by_array(key);
  }

  /// Next 32-bit output of MT19937.
  std::uint32_t next_u32() { return mt_.next_u32(); }

  /// random.random(): uniform double in [0, 1) with 53 bits.
  double random() { return mt_.next_double(); }

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
  detail::mersenne_twister mt_;
};

}  // namespace ecgssl::io

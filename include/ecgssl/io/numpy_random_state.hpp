#pragma once
/// \file numpy_random_state.hpp
/// An exact re-implementation of numpy's legacy `np.random.seed(n)` / `RandomState(n)` for the
/// call the reference's PTB-XL identification preprocessing makes (spec §2.4:
/// `np.random.seed(42)`, then per record `start = np.random.randint(0, L - 2500)`).
///
/// numpy seeds MT19937 with init_genrand(n) for an integer seed (CPython uses init_by_array, see
/// python_random.hpp). Legacy randint(low, high) draws v = next_u32() & mask, mask = the smallest
/// 2^k - 1 >= high - 1 - low, until v <= high - 1 - low, and returns low + v; with
/// high - low = 1 it returns low without a draw. random_sample() is CPython's 53-bit formula.
/// Checked against numpy 2.4 output in tests/io/test_numpy_random_state.cpp.

#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "detail/mersenne_twister.hpp"

namespace ecgssl::io {

/// numpy legacy RandomState, integer seed.
class numpy_random_state {
 public:
  explicit numpy_random_state(std::uint32_t seed = 42) { mt_.init_genrand(seed); }

  std::uint32_t next_u32() { return mt_.next_u32(); }

  /// random_sample(): uniform double in [0, 1).
  double random_sample() { return mt_.next_double(); }

  /// randint(low, high): integer in [low, high), high - low in [1, 2^32].
  std::int64_t randint(std::int64_t low, std::int64_t high) {
    if (!(high > low) || high - low > (std::int64_t{1} << 32)) {
      throw config_error(at_field("high"), "randint(" + std::to_string(low) + ", " + std::to_string(high) + ")",
                         "low < high <= low + 2^32");
    }
    const auto range = static_cast<std::uint32_t>(high - 1 - low);
    if (range == 0) return low;
    std::uint32_t mask = range;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    std::uint32_t v = next_u32() & mask;
    while (v > range) v = next_u32() & mask;
    return low + static_cast<std::int64_t>(v);
  }

  /// The reference's PTB-XL crop starts: one randint(0, L - crop) per record, in order.
  /// A record shorter than crop + 1 samples throws data_error (numpy would raise too).
  static std::vector<std::int64_t> crop_starts(const std::vector<std::int64_t>& lengths, std::int64_t crop = 2500,
                                               std::uint32_t seed = 42) {
    numpy_random_state rng(seed);
    std::vector<std::int64_t> out;
    out.reserve(lengths.size());
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      if (lengths[i] <= crop) {
        throw data_error(at_field("record " + std::to_string(i)), std::to_string(lengths[i]) + " samples",
                         "more than " + std::to_string(crop) + " samples for a random crop");
      }
      out.push_back(rng.randint(0, lengths[i] - crop));
    }
    return out;
  }

 private:
  detail::mersenne_twister mt_;
};

}  // namespace ecgssl::io

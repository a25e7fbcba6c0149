#pragma once
// MT19937 (Matsumoto & Nishimura 1998) with both seedings in use: init_genrand (numpy's
// RandomState(int)) and init_by_array (CPython's random.seed(int)).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ecgssl::io::detail {

class mersenne_twister {
 public:
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

  /// Next tempered 32-bit output.
  std::uint32_t next_u32() {
    if (index_ >= state_size) twist();
    std::uint32_t y = state_[index_++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
  }

  /// 53-bit double in [0, 1) from two outputs (CPython random() and numpy random_sample()).
  double next_double() {
    const std::uint32_t a = next_u32() >> 5;
    const std::uint32_t b = next_u32() >> 6;
    return (static_cast<double>(a) * 67108864.0 + static_cast<double>(b)) * (1.0 / 9007199254740992.0);
  }

 private:
  static constexpr std::size_t state_size = 624;
  static constexpr std::size_t shift_size = 397;

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

}  // namespace ecgssl::io::detail

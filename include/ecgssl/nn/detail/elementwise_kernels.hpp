#pragma once
/// \file elementwise_kernels.hpp
/// Host math of the elementwise layers: exact-erf GELU (spec §3.3, §3.7) and dropout with a
/// counter-based mask (spec §3.4, §3.7). Work is split in fixed-size chunks (common.hpp), so
/// results never depend on the thread count.

#include <Eigen/Core>
#include <cmath>
#include <unsupported/Eigen/SpecialFunctions>
#include <cstddef>
#include <numbers>

#include "../../core/backend.hpp"
#include "../../core/philox.hpp"
#include "common.hpp"

namespace ecgssl::nn::detail {
struct gelu_op {};
struct dropout_op {};
}  // namespace ecgssl::nn::detail

namespace ecgssl {

template <>
struct implementation<nn::detail::gelu_op, host> {
  template <class T>
  using array_map = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
  template <class T>
  using const_array_map = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

  /// y = x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)). Eigen's erf is vectorised for float (a
  /// rational approximation accurate to a few ulp) and std::erf for double.
  template <class T>
  static void forward(const T* x, T* y, std::size_t n) {
    nn::detail::for_chunks(n, [&](std::size_t begin, std::size_t end) {
      const auto len = static_cast<Eigen::Index>(end - begin);
      const const_array_map<T> xv(x + begin, len);
      array_map<T>(y + begin, len) = T(0.5) * xv * (T(1) + (xv * inv_sqrt2<T>).erf());
    });
  }
  /// dx += dy * (Phi(x) + x * phi(x)).
  template <class T>
  static void backward(const T* x, const T* dy, T* dx, std::size_t n) {
    nn::detail::for_chunks(n, [&](std::size_t begin, std::size_t end) {
      const auto len = static_cast<Eigen::Index>(end - begin);
      const const_array_map<T> xv(x + begin, len);
      const const_array_map<T> dyv(dy + begin, len);
      array_map<T>(dx + begin, len) +=
          dyv * (T(0.5) * (T(1) + (xv * inv_sqrt2<T>).erf()) + xv * inv_sqrt_2pi<T> * (T(-0.5) * xv.square()).exp());
    });
  }

 private:
  template <class T>
  static constexpr T inv_sqrt2 = static_cast<T>(1.0 / std::numbers::sqrt2);
  template <class T>
  static constexpr T inv_sqrt_2pi = static_cast<T>(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
};

template <>
struct implementation<nn::detail::dropout_op, host> {
  /// scale[i] = (uniform_float(i) >= p) / (1 - p): element i keeps with probability 1 - p, the
  /// decision a pure function of (stream, i).
  template <class T>
  static void draw_mask(const random_stream& rng, double p, T* scale, std::size_t n) {
    const T keep = static_cast<T>(1.0 / (1.0 - p));
    const float threshold = static_cast<float>(p);
    // Smallest 24-bit draw that is kept: threshold * 2^24 is exact in double.
    const auto cut = static_cast<std::uint32_t>(std::ceil(static_cast<double>(threshold) * 0x1.0p24));
    nn::detail::for_chunks(n, [&](std::size_t begin, std::size_t end) {
      // Chunks start at multiples of 64: sixteen Philox blocks (64 draws) per vectorised call,
      // then single blocks (4 draws) for the tail.
      std::size_t i = begin;
      std::uint32_t words16[4][16];
      T lane_scale[4][16];
      for (; i + 64 <= end; i += 64) {
        philox_blocks16(rng, i >> 2, words16);
        // (w >> 8) * 2^-24 >= threshold  <=>  (w >> 8) >= cut: an integer compare, vectorised
        for (std::size_t k = 0; k < 4; ++k) {
          for (std::size_t l = 0; l < 16; ++l) lane_scale[k][l] = (words16[k][l] >> 8) >= cut ? keep : T(0);
        }
        for (std::size_t l = 0; l < 16; ++l) {
          for (std::size_t k = 0; k < 4; ++k) scale[i + 4 * l + k] = lane_scale[k][l];
        }
      }
      for (; i < end; i += 4) {
        const auto words = rng.block(i >> 2);
        for (std::size_t k = 0; k < 4 && i + k < end; ++k) {
          // Same value as rng.uniform_float(i + k).
          const float u = static_cast<float>(words[k] >> 8) * 0x1.0p-24f;
          scale[i + k] = u >= threshold ? keep : T(0);
        }
      }
    });
  }
  /// y = x * scale.
  template <class T>
  static void apply(const T* x, const T* scale, T* y, std::size_t n) {
    nn::detail::for_chunks(n, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) y[i] = x[i] * scale[i];
    });
  }
  /// dx += dy * scale.
  template <class T>
  static void backward(const T* dy, const T* scale, T* dx, std::size_t n) {
    nn::detail::for_chunks(n, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) dx[i] += dy[i] * scale[i];
    });
  }
};

}  // namespace ecgssl

#pragma once
/// \file bf16_rounding.hpp
/// Rounding runs of floats to bfloat16 for the products of bf16 mode (nn/detail/gemm.hpp).
/// Element by element these give what ecgssl::bf16_bits gives (core/precision.hpp: nearest, ties
/// to even; a NaN stays a quiet NaN), written branch-free so the loops vectorise: rounding is a
/// memory-bound pass over every operand of a product, and a scalar loop cost as much time as
/// oneDNN's AMX products themselves.

#include <bit>
#include <cstdint>

// `omp simd` asks for the vector loop even at -O2; without OpenMP the pragma would only warn.
#if defined(_OPENMP)
#define ECGSSL_VECTOR_LOOP _Pragma("omp simd")
#else
#define ECGSSL_VECTOR_LOOP
#endif

namespace ecgssl::detail {

/// `count` floats from `from` as bf16 bit patterns into `to`.
inline void round_to_bf16_bits(const float* from, std::uint16_t* to, std::int64_t count) {
ECGSSL_VECTOR_LOOP
  for (std::int64_t i = 0; i < count; ++i) {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(from[i]);
    const std::uint32_t nearest = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    const std::uint32_t quiet_nan = (bits >> 16) | 0x0040u;
    to[i] = static_cast<std::uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? quiet_nan : nearest);
  }
}

/// The same rounding, kept as floats (the bf16 value widened back: its low 16 bits zero).
inline void round_to_bf16_floats(const float* from, float* to, std::int64_t count) {
ECGSSL_VECTOR_LOOP
  for (std::int64_t i = 0; i < count; ++i) {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(from[i]);
    const std::uint32_t nearest = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
    const std::uint32_t quiet_nan = (bits & 0xffff0000u) | 0x00400000u;
    to[i] = std::bit_cast<float>((bits & 0x7fffffffu) > 0x7f800000u ? quiet_nan : nearest);
  }
}

}  // namespace ecgssl::detail

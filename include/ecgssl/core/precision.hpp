#pragma once
/// \file precision.hpp
/// The arithmetic of the matrix products: float32 throughout (`fp32`), or bfloat16 operands with
/// float32 accumulation (`bf16`, mixed precision as torch.autocast(bfloat16) runs it).
///
/// Why a run-time setting of the calling thread rather than a template policy: the only thing
/// that differs between the two modes is how a product rounds its operands, and every product
/// goes through one function (nn/detail/gemm.hpp). Everything else (norm statistics, softmax,
/// losses, reductions, the optimizer, master weights, gradients) stays float32 in both. A
/// template parameter would compile every layer, model and trainer twice for that one branch.
/// The setting belongs to the thread that starts the work and is carried into the parallel
/// regions it opens (core/threading.hpp), so two models in two threads may use different modes.
///
/// Why bf16 needs no loss scaling (unlike float16): bfloat16 keeps float32's 8-bit exponent,
/// so a gradient that is representable in float32 is representable in bf16 up to its 8-bit
/// significand; nothing underflows that would not underflow in float32 (whose gradients, here,
/// are float32 anyway: only product operands are rounded).
///
/// Rounding: float32 -> bf16 rounds to nearest, ties to even (as PyTorch, oneDNN and the
/// hardware conversion instructions do); NaN stays NaN (quiet), infinities stay infinite, and a
/// finite value above the largest bf16 (3.3895e38) rounds to infinity. Products of two bf16
/// values are exact in float32 (8 + 8 significant bits), so a bf16 product differs from the
/// float32 product of the rounded operands only in the order of its float32 additions.

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "error.hpp"

namespace ecgssl {

enum class precision : std::uint8_t {
  fp32,  ///< float32 products (the library's behaviour before mixed precision)
  bf16,  ///< bfloat16 product operands, float32 accumulation and everything else in float32
};

[[nodiscard]] inline std::string_view to_string(precision p) noexcept {
  return p == precision::bf16 ? "bf16" : "fp32";
}

/// The precision `text` names ("fp32" or "bf16"); config_error naming `field` otherwise.
[[nodiscard]] inline precision parse_precision(std::string_view text, const std::string& field = "precision") {
  if (text == "fp32") return precision::fp32;
  if (text == "bf16") return precision::bf16;
  throw config_error(at_field(field), "'" + std::string(text) + "'", "fp32 or bf16");
}

/// The bfloat16 bit pattern nearest to `x` (ties to even).
[[nodiscard]] inline std::uint16_t bf16_bits(float x) noexcept {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    // NaN: keep the sign and the top payload bits, force the quiet bit so no payload rounds to
    // an infinity.
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  }
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(bits >> 16);
}

[[nodiscard]] inline float bf16_to_float(std::uint16_t bits) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

/// `x` rounded to the nearest bfloat16 value, as a float.
[[nodiscard]] inline float round_to_bf16(float x) noexcept { return bf16_to_float(bf16_bits(x)); }

namespace detail {
inline precision& thread_product_precision() noexcept {
  thread_local precision mode = precision::fp32;
  return mode;
}
}  // namespace detail

/// The precision of the matrix products started by this thread.
[[nodiscard]] inline precision product_precision() noexcept { return detail::thread_product_precision(); }

/// Sets this thread's product precision for the scope's lifetime, then restores the previous one.
class precision_scope {
 public:
  explicit precision_scope(precision mode) noexcept : previous_(detail::thread_product_precision()) {
    detail::thread_product_precision() = mode;
  }
  ~precision_scope() { detail::thread_product_precision() = previous_; }
  precision_scope(const precision_scope&) = delete;
  precision_scope& operator=(const precision_scope&) = delete;

 private:
  precision previous_;
};

}  // namespace ecgssl

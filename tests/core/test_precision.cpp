// core/precision.hpp: bfloat16 rounding against bit patterns worked out by hand, the option's
// parsing, and the thread's product precision (scoped, and carried into parallel regions).
#include <ecgssl/core/precision.hpp>
#include <ecgssl/core/threading.hpp>

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace {
std::uint16_t bits_of(std::uint32_t float_bits) { return ecgssl::bf16_bits(std::bit_cast<float>(float_bits)); }
}  // namespace

TEST_CASE("bf16 rounding: nearest, ties to even, on hand-worked bit patterns") {
  // bf16 keeps the top 16 bits of a float32; the low 16 decide the rounding (0x8000 is the tie).
  CHECK(bits_of(0x3f800000u) == 0x3f80);  // 1.0 exactly
  CHECK(bits_of(0x3f807fffu) == 0x3f80);  // just below the tie: down
  CHECK(bits_of(0x3f808000u) == 0x3f80);  // 1 + 2^-8, a tie, 0x3f80 is even: down
  CHECK(bits_of(0x3f818000u) == 0x3f82);  // 1 + 3 * 2^-8, a tie, 0x3f81 is odd: up to even
  CHECK(bits_of(0x3f808001u) == 0x3f81);  // just above the tie: up
  CHECK(bits_of(0xc0200000u) == 0xc020);  // -2.5 exactly
  CHECK(bits_of(0xbf818000u) == 0xbf82);  // the sign does not change the tie rule
  CHECK(bits_of(0x3f7fffffu) == 0x3f80);  // carry into the exponent: 0.99999994 -> 1.0
  CHECK(bits_of(0x00000000u) == 0x0000);
  CHECK(bits_of(0x80000000u) == 0x8000);  // -0 keeps its sign
  CHECK(bits_of(0x00008000u) == 0x0000);  // a subnormal tie rounds to even (zero)
  CHECK(bits_of(0x00018000u) == 0x0002);  // ... and up when odd
  CHECK(bits_of(0x7f7f7fffu) == 0x7f7f);  // largest float32 below the bf16 maximum's tie
  CHECK(bits_of(0x7f7fffffu) == 0x7f80);  // float32's maximum rounds to infinity
  CHECK(bits_of(0x7f800000u) == 0x7f80);  // +inf
  CHECK(bits_of(0xff800000u) == 0xff80);  // -inf
  CHECK(bits_of(0x7fc00000u) == 0x7fc0);  // quiet NaN
  CHECK(bits_of(0x7f800001u) == 0x7fc0);  // a signalling NaN whose payload is in the low bits stays NaN
  CHECK(bits_of(0xffffffffu) == 0xffff);  // a NaN with every bit set does not carry into the sign
  CHECK(std::isnan(ecgssl::round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  CHECK(ecgssl::bf16_to_float(0x4049) == 3.140625f);  // 1.5703125 * 2
  CHECK(ecgssl::round_to_bf16(3.14159265f) == 3.140625f);
}

TEST_CASE("--precision names: fp32 and bf16 only, refused otherwise with the field named") {
  CHECK(ecgssl::parse_precision("fp32") == ecgssl::precision::fp32);
  CHECK(ecgssl::parse_precision("bf16") == ecgssl::precision::bf16);
  CHECK(ecgssl::to_string(ecgssl::precision::bf16) == "bf16");
  for (const char* bad : {"BF16", "fp16", "", "bf16 "}) {
    try {
      (void)ecgssl::parse_precision(bad, "--precision");
      FAIL("accepted '" << bad << "'");
    } catch (const ecgssl::config_error& e) {
      CHECK(std::string(e.what()).find("--precision") != std::string::npos);
      CHECK(std::string(e.what()).find("fp32 or bf16") != std::string::npos);
    }
  }
}

TEST_CASE("the product precision is the thread's, scoped, and holds inside parallel_for") {
  CHECK(ecgssl::product_precision() == ecgssl::precision::fp32);
  {
    const ecgssl::precision_scope outer(ecgssl::precision::bf16);
    CHECK(ecgssl::product_precision() == ecgssl::precision::bf16);
    {
      const ecgssl::precision_scope inner(ecgssl::precision::fp32);
      CHECK(ecgssl::product_precision() == ecgssl::precision::fp32);
    }
    CHECK(ecgssl::product_precision() == ecgssl::precision::bf16);
    const int before = ecgssl::max_threads();
    ecgssl::set_threads(3);
    std::vector<int> seen(64, -1);
    ecgssl::parallel_for(64, [&](std::int64_t i) {
      seen[static_cast<std::size_t>(i)] = ecgssl::product_precision() == ecgssl::precision::bf16 ? 1 : 0;
    });
    ecgssl::set_threads(before);
    for (int s : seen) CHECK(s == 1);
  }
  CHECK(ecgssl::product_precision() == ecgssl::precision::fp32);
  const int before = ecgssl::max_threads();
  // The team threads return to fp32 after the loop: a later fp32 loop sees fp32 everywhere.
  std::vector<int> after(64, -1);
  ecgssl::set_threads(3);
  ecgssl::parallel_for(64, [&](std::int64_t i) {
    after[static_cast<std::size_t>(i)] = ecgssl::product_precision() == ecgssl::precision::fp32 ? 1 : 0;
  });
  ecgssl::set_threads(before);
  for (int s : after) CHECK(s == 1);
}

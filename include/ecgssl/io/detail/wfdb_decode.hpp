#pragma once
/// \file wfdb_decode.hpp
/// Sample decoders for the WFDB signal formats 8, 16, 24, 32, 61, 80, 160, 212, 310 and 311
/// (WFDB "signal(5)" specification). Each decoder turns a byte buffer into a flat stream of
/// digital samples in file order (frames of sample-interleaved signals). Bounds are checked by
/// the caller through `wfdb_bytes_for_samples`, so the loops below never read past `n_bytes`.

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>

namespace ecgssl::io::detail {

/// Digital value a format reserves for "no sample" (WFDB signal(5)); format 8 stores first
/// differences and has none.
[[nodiscard]] constexpr std::optional<std::int32_t> wfdb_invalid_value(int format) {
  switch (format) {
    case 80: return -128;
    case 0: case 16: case 61: case 160: return -32768;  // format 0: WFDB_INVALID_SAMPLE
    case 24: return -8388608;
    case 32: return std::numeric_limits<std::int32_t>::min();
    case 212: return -2048;
    case 310: case 311: return -512;
    default: return std::nullopt;
  }
}

/// Bytes needed to hold the first `n` samples of a flat stream in `format`, or -1 if that
/// overflows. The packed formats need only the bytes that hold bits of the last sample
/// (212: 2 bytes for an odd trailing sample; 310: 2 or 4 bytes; 311: 2 or 3 bytes).
[[nodiscard]] constexpr std::int64_t wfdb_bytes_for_samples(int format, std::int64_t n) {
  constexpr std::int64_t limit = std::numeric_limits<std::int64_t>::max() / 8;
  if (n < 0 || n > limit) return -1;
  switch (format) {
    case 8: case 80: return n;
    case 16: case 61: case 160: return 2 * n;
    case 24: return 3 * n;
    case 32: return 4 * n;
    case 212: return (n / 2) * 3 + (n % 2 ? 2 : 0);
    case 310: { constexpr std::int64_t tail[3] = {0, 2, 4}; return (n / 3) * 4 + tail[n % 3]; }
    case 311: { constexpr std::int64_t tail[3] = {0, 2, 3}; return (n / 3) * 4 + tail[n % 3]; }
    default: return -1;
  }
}

/// Largest sample count whose bytes fit in `bytes` (inverse of wfdb_bytes_for_samples).
[[nodiscard]] constexpr std::int64_t wfdb_samples_in_bytes(int format, std::int64_t bytes) {
  if (bytes <= 0) return 0;
  switch (format) {
    case 8: case 80: return bytes;
    case 16: case 61: case 160: return bytes / 2;
    case 24: return bytes / 3;
    case 32: return bytes / 4;
    case 212: return (bytes / 3) * 2 + (bytes % 3 == 2 ? 1 : 0);
    case 310: { constexpr std::int64_t extra[4] = {0, 0, 1, 1}; return (bytes / 4) * 3 + extra[bytes % 4]; }
    case 311: { constexpr std::int64_t extra[4] = {0, 0, 1, 2}; return (bytes / 4) * 3 + extra[bytes % 4]; }
    default: return 0;
  }
}

/// Sign-extends the low `bits` bits of `v`.
[[nodiscard]] constexpr std::int32_t sign_extend(std::uint32_t v, int bits) {
  const std::uint32_t m = std::uint32_t{1} << (bits - 1);
  v &= (std::uint32_t{1} << bits) - 1;
  return static_cast<std::int32_t>(v ^ m) - static_cast<std::int32_t>(m);
}

/// Decodes the first `n` samples of `data` (which must hold wfdb_bytes_for_samples(format, n)
/// bytes) into `out`. Format 8 yields the raw differences; the caller integrates them per signal.
inline void wfdb_decode_samples(int format, const unsigned char* data, std::int64_t n, std::int32_t* out) {
  const unsigned char* p = data;
  switch (format) {
    case 8:
      for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<std::int8_t>(p[i]);
      return;
    case 80:  // offset binary: stored byte = value + 128
      for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<std::int32_t>(p[i]) - 128;
      return;
    case 16:
      for (std::int64_t i = 0; i < n; ++i, p += 2) {
        out[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>(p[0] | (p[1] << 8)));
      }
      return;
    case 61:  // big-endian 16 bit
      for (std::int64_t i = 0; i < n; ++i, p += 2) {
        out[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>((p[0] << 8) | p[1]));
      }
      return;
    case 160:  // offset binary 16 bit
      for (std::int64_t i = 0; i < n; ++i, p += 2) out[i] = static_cast<std::int32_t>(p[0] | (p[1] << 8)) - 32768;
      return;
    case 24:
      for (std::int64_t i = 0; i < n; ++i, p += 3) {
        out[i] = sign_extend(std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16), 24);
      }
      return;
    case 32:
      for (std::int64_t i = 0; i < n; ++i, p += 4) {
        const std::uint32_t u = std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
                                (std::uint32_t{p[3]} << 24);
        std::int32_t v;
        std::memcpy(&v, &u, sizeof v);
        out[i] = v;
      }
      return;
    case 212: {
      // Pairs in 3 bytes: s0 = b0 + low nibble of b1 * 256, s1 = b2 + high nibble of b1 * 256.
      std::int64_t i = 0;
      for (; i + 1 < n; i += 2, p += 3) {
        out[i] = sign_extend(std::uint32_t{p[0]} | ((std::uint32_t{p[1]} & 0x0F) << 8), 12);
        out[i + 1] = sign_extend(std::uint32_t{p[2]} | ((std::uint32_t{p[1]} & 0xF0) << 4), 12);
      }
      if (i < n) out[i] = sign_extend(std::uint32_t{p[0]} | ((std::uint32_t{p[1]} & 0x0F) << 8), 12);
      return;
    }
    case 310: {
      // Triplets in two little-endian 16-bit words w0, w1: s0 = bits 1-10 of w0, s1 = bits 1-10
      // of w1, s2 = bits 11-15 of w0 (low half) and of w1 (high half).
      std::int64_t i = 0;
      for (; i < n; i += 3, p += 4) {
        const std::uint32_t w0 = std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8);
        out[i] = sign_extend(w0 >> 1, 10);
        if (i + 1 >= n) break;
        const std::uint32_t w1 = std::uint32_t{p[2]} | (std::uint32_t{p[3]} << 8);
        out[i + 1] = sign_extend(w1 >> 1, 10);
        if (i + 2 >= n) break;
        out[i + 2] = sign_extend(((w0 >> 11) & 0x1F) | (((w1 >> 11) & 0x1F) << 5), 10);
      }
      return;
    }
    case 311: {
      // Triplets in one little-endian 32-bit word: bits 0-9, 10-19, 20-29.
      std::int64_t i = 0;
      for (; i < n; i += 3, p += 4) {
        out[i] = sign_extend(std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8), 10);
        if (i + 1 >= n) break;
        out[i + 1] = sign_extend((std::uint32_t{p[1]} >> 2) | (std::uint32_t{p[2]} << 6), 10);
        if (i + 2 >= n) break;
        out[i + 2] = sign_extend((std::uint32_t{p[2]} >> 4) | (std::uint32_t{p[3]} << 4), 10);
      }
      return;
    }
    default:
      return;  // unreachable: formats are validated by the header parser
  }
}

}  // namespace ecgssl::io::detail

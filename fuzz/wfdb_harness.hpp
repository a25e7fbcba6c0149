#pragma once
// Bodies of the libFuzzer targets in fuzz/, shared with tests/io/test_fuzz_regressions.cpp so
// every kept crash input is replayed by the ordinary test suite. A failed check traps.
#include <ecgssl/io/wfdb_header.hpp>
#include <ecgssl/io/wfdb_record.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace ecgssl::fuzzing {

// Header target: the WFDB header parser must throw ecgssl::error or succeed on any text.
inline int fuzz_wfdb_header_one(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool zero_gain_default : {false, true}) {
    ecgssl::io::wfdb_parse_options options;
    options.zero_gain_means_default = zero_gain_default;
    try {
      const auto h = ecgssl::io::parse_wfdb_header(text, "fuzz.hea", options);
      (void)h.comment_value("age");
      (void)h.comment_value("dx");
    } catch (const ecgssl::error&) {
    }
  }
  return 0;
}

// Record target: a whole record from memory. Input = header text, a NUL byte, then the bytes
// every signal file of the header resolves to (so .mat names exercise the MAT checks).
inline int fuzz_wfdb_record_one(const std::uint8_t* data, std::size_t size) {
  const void* nul = std::memchr(data, 0, size);
  const std::size_t split = nul ? static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - data) : size;
  const std::string_view text(reinterpret_cast<const char*>(data), split);
  const std::span<const unsigned char> file(data + (nul ? split + 1 : size), nul ? size - split - 1 : 0);
  ecgssl::io::wfdb_read_options options;
  options.max_total_samples = std::int64_t{1} << 22;  // keep allocations far below the RSS limit
  for (bool strict : {false, true}) {
    options.strict_checksum = strict;
    try {
      const auto h = ecgssl::io::parse_wfdb_header(text, "fuzz.hea", options.header);
      if (h.is_multi_segment()) return 0;
      ecgssl::io::wfdb_record rec;
      ecgssl::io::decode_record(h, [&](const ecgssl::io::wfdb_signal_spec&) { return file; }, rec, options);
      // Touch every output value so ASan sees any bad write.
      std::int64_t acc = 0;
      for (auto v : rec.digital) acc += v;
      for (auto v : rec.physical) acc += v == v;
      if (rec.digital.shape()[0] != rec.n_leads()) __builtin_trap();
      (void)acc;
    } catch (const ecgssl::error&) {
    }
  }
  return 0;
}

// Formats target: every signal decoder. The first bytes choose the format (10 WFDB formats
// and the Challenge MAT layout), the number of signals, samples per frame, skew and length;
// the rest is the signal file. Checks the decoded shape and that a sample count stated in the
// header is honoured or rejected with an ecgssl::error.
inline int fuzz_wfdb_formats_one(const std::uint8_t* data, std::size_t size) {
  if (size < 5) return 0;
  static constexpr int formats[] = {8, 16, 24, 32, 61, 80, 160, 212, 310, 311, 16};
  const int choice = data[0] % 11;
  const bool mat = choice == 10;
  const int format = formats[choice];
  const int n_signals = 1 + data[1] % 4;
  const int spf = mat ? 1 : 1 + data[2] % 4;
  const int skew = mat ? 0 : data[3] % 8;
  const int n_samples = data[4];  // 0 = infer from the file size
  const std::span<const unsigned char> file(data + 5, size - 5);
  std::string text = "f " + std::to_string(n_signals) + " 500";
  if (n_samples > 0) text += " " + std::to_string(n_samples);
  text += "\n";
  for (int s = 0; s < n_signals; ++s) {
    text += mat ? "f.mat 16+24" : "f.dat " + std::to_string(format);
    if (!mat && s == 0 && spf > 1) text += "x" + std::to_string(spf);
    if (!mat && s == n_signals - 1 && skew > 0) text += ":" + std::to_string(skew);
    text += " 200(" + std::to_string(s - 1) + ")/mV 0 0 " + std::to_string(s * 3) + " 0 0 sig" + std::to_string(s) + "\n";
  }
  try {
    const auto h = ecgssl::io::parse_wfdb_header(text, "fuzz.hea");
    ecgssl::io::wfdb_record rec;
    ecgssl::io::decode_record(h, [&](const ecgssl::io::wfdb_signal_spec&) { return file; }, rec);
    if (rec.n_leads() != static_cast<std::size_t>(n_signals)) __builtin_trap();
    if (n_samples > 0 && rec.n_samples != n_samples) __builtin_trap();
    if (rec.physical.size() != rec.digital.size()) __builtin_trap();
    std::int64_t nan_count = 0;
    for (auto v : rec.physical) nan_count += v != v;
    if (nan_count != rec.invalid_samples) __builtin_trap();
  } catch (const ecgssl::error&) {
  }
  return 0;
}

}  // namespace ecgssl::fuzzing

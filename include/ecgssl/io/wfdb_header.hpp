#pragma once
/// \file wfdb_header.hpp
/// Parser for WFDB header files (`.hea`): record line, signal specification lines, segment
/// lines of multi-segment records and `#` comment lines (read as key/value pairs).
///
/// Grammar and defaults follow the WFDB "header(5)" specification (PhysioNet WFDB Applications
/// Guide): a field that is absent takes the documented default (sampling frequency 250, ADC gain
/// 200, units mV, baseline = ADC zero, initial value = ADC zero, ADC resolution = the format's
/// bit width). Unlike the C library, an explicit ADC gain of 0 is rejected by default (see
/// `wfdb_parse_options::zero_gain_means_default`): a zero gain makes the physical signal
/// undefined and in practice marks a broken header, so the user should decide. A gain so small
/// that physical values overflow (1e-300) is always rejected.

#include <ecgssl/core/error.hpp>
#include <ecgssl/io/detail/regular_file.hpp>
#include <ecgssl/io/detail/text.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace ecgssl::io {

/// One signal specification line: `file format[xspf][:skew][+offset] gain[(baseline)][/units]
/// resolution zero initial checksum block_size description`.
struct wfdb_signal_spec {
  std::string file_name;            ///< signal file, relative to the header's folder; "~" = none
  int format = 16;                  ///< storage format (0 = null, 8, 16, 24, 32, 61, 80, 160, 212, 310, 311)
  int samples_per_frame = 1;        ///< `212x4`: 4 samples of this signal per frame
  int skew = 0;                     ///< `16:3`: this signal's sample t is stored in frame t + 3
  std::int64_t byte_offset = 0;     ///< `16+24`: signal data start 24 bytes into the file
  double adc_gain = 200.0;          ///< ADC units per physical unit
  bool adc_gain_given = false;      ///< false when the field was absent (default 200 used)
  std::int32_t baseline = 0;        ///< digital value of physical zero
  bool baseline_given = false;      ///< false = baseline taken from adc_zero
  std::string units = "mV";         ///< physical units as written (e.g. "mV", "mv", "mmHg")
  int adc_resolution = 0;           ///< bits; the format's width when absent or 0
  std::int32_t adc_zero = 0;        ///< digital value of the ADC's mid-range
  std::int32_t initial_value = 0;   ///< first sample (needed by the difference format 8)
  std::optional<std::int32_t> checksum;  ///< 16-bit sum of the signal's samples, if written
  int block_size = 0;               ///< 0 for ordinary files
  std::string description;          ///< lead / signal name as written (rest of the line)
  std::int64_t line = 0;            ///< 1-based line of this spec in the header

  /// A null signal (file "~" or format 0, as in layout headers): no samples stored, all invalid.
  [[nodiscard]] bool is_null() const { return file_name == "~" || format == 0; }
};

/// One segment line of a multi-segment record: `name n_samples`; name "~" is a null segment.
struct wfdb_segment_spec {
  std::string name;
  std::int64_t n_samples = 0;
  std::int64_t line = 0;
  [[nodiscard]] bool is_null() const { return name == "~"; }
};

/// One `#` comment line. `key`/`value` are set for `#Key: value`, `# key: value` and the MIT
/// style `#<key>: value` (one comment line may then carry several pairs: each becomes an entry
/// with the same `text`). Lines without a colon have an empty key and the whole text as value.
struct wfdb_comment {
  std::string key;    ///< as written, without '<' '>' and surrounding blanks
  std::string value;  ///< trimmed
  std::string text;   ///< the whole line after '#', trimmed
  std::int64_t line = 0;
};

/// Options of the header parser.
struct wfdb_parse_options {
  /// WFDB's C library reads an explicit gain of 0 as the default 200; ecgssl rejects it unless
  /// this is set.
  bool zero_gain_means_default = false;
};

/// Everything a WFDB header says about a record. See header(5) of the WFDB documentation.
struct wfdb_header {
  std::string path;            ///< the file this was parsed from (for error messages)
  std::string record_name;     ///< as written on the record line
  int n_segments = 0;          ///< `name/n`: number of segments; 0 = single-segment record
  int n_signals = 0;
  double fs = 250.0;           ///< samples per second per signal (frame frequency)
  bool fs_given = false;
  double counter_frequency = 0.0;  ///< `fs/counter(base)`; equals fs when absent
  double base_counter = 0.0;
  std::int64_t n_samples = 0;  ///< samples per signal; 0 = not stated (inferred from file size)
  bool n_samples_given = false;
  std::string base_time;       ///< as written (usually HH:MM:SS[.sss]); may be empty
  std::string base_date;       ///< as written (usually DD/MM/YYYY); may be empty
  std::vector<wfdb_signal_spec> signals;    ///< single-segment records
  std::vector<wfdb_segment_spec> segments;  ///< multi-segment records
  std::vector<wfdb_comment> comments;

  [[nodiscard]] bool is_multi_segment() const { return n_segments > 0; }

  /// First comment value whose key equals `key` ignoring case ("age" finds "#Age: 74" and
  /// "#<age>: 74"), or nullopt.
  [[nodiscard]] std::optional<std::string> comment_value(std::string_view key) const {
    for (const auto& c : comments) {
      if (c.key.size() != key.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < key.size() && same; ++i) {
        same = std::tolower(static_cast<unsigned char>(c.key[i])) ==
               std::tolower(static_cast<unsigned char>(key[i]));
      }
      if (same) return c.value;
    }
    return std::nullopt;
  }
};

namespace detail {

/// Bits per sample of each supported format; 0 for an unknown format.
[[nodiscard]] constexpr int wfdb_format_bits(int format) {
  switch (format) {
    case 8: case 80: return 8;
    case 16: case 61: case 160: return 16;
    case 24: return 24;
    case 32: return 32;
    case 212: return 12;
    case 310: case 311: return 10;
    default: return 0;
  }
}

inline constexpr const char* wfdb_supported_formats = "0 (null), 8, 16, 24, 32, 61, 80, 160, 212, 310 or 311";

/// Shows a token in an error message without flooding it (headers may contain binary garbage).
[[nodiscard]] inline std::string quote_token(std::string_view token) {
  std::string out = "'";
  for (std::size_t i = 0; i < token.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (std::isprint(c)) {
      out += static_cast<char>(c);
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (token.size() > 40) out += "...";
  return out + "'";
}

/// Parses the whole of `token` as an integer of type T; nullopt if anything is left over.
template <class T>
[[nodiscard]] std::optional<T> parse_int(std::string_view token) {
  if (!token.empty() && token.front() == '+') token.remove_prefix(1);
  T value{};
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec != std::errc{} || end != token.data() + token.size() || token.empty()) return std::nullopt;
  return value;
}

/// Parses the whole of `token` as a finite double; nullopt otherwise.
[[nodiscard]] inline std::optional<double> parse_real(std::string_view token) {
  if (!token.empty() && token.front() == '+') token.remove_prefix(1);
  double value = 0.0;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec != std::errc{} || end != token.data() + token.size() || token.empty() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

/// Splits a line into blank-separated tokens, remembering where each starts.
struct token_list {
  std::vector<std::string_view> tokens;
  std::vector<std::size_t> starts;
};

[[nodiscard]] inline token_list split_tokens(std::string_view line) {
  token_list out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= line.size()) break;
    const std::size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    out.tokens.push_back(line.substr(start, i - start));
    out.starts.push_back(start);
  }
  return out;
}

class header_parser {
 public:
  header_parser(std::string path, wfdb_parse_options options)
      : path_(std::move(path)), options_(options) {}

  [[noreturn]] void fail(std::int64_t line, const std::string& field, const std::string& problem,
                         const std::string& expected) const {
    error_location where;
    where.file = path_;
    where.line = line;
    where.field = field;
    throw io_error(where, problem, expected);
  }

  template <class T>
  T int_field(std::string_view token, std::int64_t line, const char* field, const char* expected) const {
    const auto v = parse_int<T>(token);
    if (!v) fail(line, field, "cannot read " + quote_token(token) + " as an integer", expected);
    return *v;
  }

  double real_field(std::string_view token, std::int64_t line, const char* field,
                    const char* expected) const {
    const auto v = parse_real(token);
    if (!v) fail(line, field, "cannot read " + quote_token(token) + " as a number", expected);
    return *v;
  }

  void record_line(std::string_view text, std::int64_t line, wfdb_header& h) const {
    const auto t = split_tokens(text);
    const auto& tok = t.tokens;
    // name[/n_segments]
    const std::string_view name_token = tok[0];
    const auto slash = name_token.find('/');
    h.record_name = std::string(name_token.substr(0, slash));
    if (h.record_name.empty()) fail(line, "record name", "empty record name", "a name such as 100 or HR00001");
    if (slash != std::string_view::npos) {
      h.n_segments = int_field<int>(name_token.substr(slash + 1), line, "number of segments",
                                    "a positive integer after '/'");
      if (h.n_segments <= 0) fail(line, "number of segments", "got " + std::to_string(h.n_segments), "a positive integer");
    }
    if (tok.size() < 2) fail(line, "number of signals", "record line has no signal count", "name n_signals [fs [n_samples]]");
    h.n_signals = int_field<int>(tok[1], line, "number of signals", "a non-negative integer");
    if (h.n_signals < 0) fail(line, "number of signals", "got " + std::to_string(h.n_signals), "a non-negative integer");
    if (tok.size() >= 3) {
      // fs[/counter_frequency[(base_counter)]]
      std::string_view f = tok[2];
      const auto fslash = f.find('/');
      h.fs = real_field(f.substr(0, fslash), line, "sampling frequency", "a positive number such as 500");
      if (!(h.fs > 0.0)) fail(line, "sampling frequency", "got " + std::string(f.substr(0, fslash)), "a positive number");
      h.fs_given = true;
      if (fslash != std::string_view::npos) {
        std::string_view c = f.substr(fslash + 1);
        const auto paren = c.find('(');
        if (paren != std::string_view::npos) {
          if (c.back() != ')') fail(line, "base counter value", "unterminated " + quote_token(c), "fs/counter(base)");
          h.base_counter = real_field(c.substr(paren + 1, c.size() - paren - 2), line,
                                      "base counter value", "a number in parentheses");
          c = c.substr(0, paren);
        }
        h.counter_frequency = real_field(c, line, "counter frequency", "a positive number after '/'");
        if (!(h.counter_frequency > 0.0)) fail(line, "counter frequency", "got " + std::string(c), "a positive number");
      }
    }
    if (h.counter_frequency == 0.0) h.counter_frequency = h.fs;
    if (tok.size() >= 4) {
      h.n_samples = int_field<std::int64_t>(tok[3], line, "number of samples", "a non-negative integer");
      if (h.n_samples < 0) fail(line, "number of samples", "got " + std::string(tok[3]), "a non-negative integer");
      h.n_samples_given = h.n_samples > 0;
    }
    // Base time and date: WFDB writes "HH:MM:SS DD/MM/YYYY"; Challenge headers write
    // "04-Jun-2020 15:11:55". Kept as written; a token with ':' is the time.
    for (std::size_t i = 4; i < tok.size(); ++i) {
      std::string& slot = tok[i].find(':') != std::string_view::npos ? h.base_time : h.base_date;
      if (!slot.empty()) slot += ' ';
      slot += std::string(tok[i]);
    }
  }

  wfdb_signal_spec signal_line(std::string_view text, std::int64_t line) const {
    const auto t = split_tokens(text);
    const auto& tok = t.tokens;
    wfdb_signal_spec s;
    s.line = line;
    s.file_name = std::string(tok[0]);
    if (tok.size() < 2) fail(line, "format", "signal line has no format", std::string("one of ") + wfdb_supported_formats);
    // format[xspf][:skew][+offset]
    std::string_view f = tok[1];
    std::size_t i = 0;
    while (i < f.size() && std::isdigit(static_cast<unsigned char>(f[i]))) ++i;
    s.format = int_field<int>(f.substr(0, i), line, "format", "a format number such as 16 or 212");
    if (s.format != 0 && wfdb_format_bits(s.format) == 0) {
      fail(line, "format", "unsupported signal format " + std::to_string(s.format),
           std::string("one of ") + wfdb_supported_formats + " (FLAC formats 508/516/524 are not supported)");
    }
    auto take_number = [&](char tag, const char* field, const char* expected) -> std::optional<std::int64_t> {
      if (i >= f.size() || f[i] != tag) return std::nullopt;
      const std::size_t start = ++i;
      while (i < f.size() && std::isdigit(static_cast<unsigned char>(f[i]))) ++i;
      return int_field<std::int64_t>(f.substr(start, i - start), line, field, expected);
    };
    if (auto v = take_number('x', "samples per frame", "a positive integer after 'x'")) {
      if (*v < 1 || *v > 1'000'000) fail(line, "samples per frame", "got " + std::to_string(*v), "1 to 1000000");
      s.samples_per_frame = static_cast<int>(*v);
    }
    if (auto v = take_number(':', "skew", "a non-negative integer after ':'")) {
      if (*v > 1'000'000'000) fail(line, "skew", "got " + std::to_string(*v), "at most 1000000000");
      s.skew = static_cast<int>(*v);
    }
    if (auto v = take_number('+', "byte offset", "a non-negative integer after '+'")) s.byte_offset = *v;
    if (i != f.size()) {
      fail(line, "format", "cannot read " + quote_token(f), "format[xSAMPLES][:SKEW][+OFFSET], e.g. 212x4 or 16+24");
    }
    const int bits = wfdb_format_bits(s.format);
    s.adc_resolution = bits;
    if (tok.size() >= 3) {
      // gain[(baseline)][/units]
      std::string_view g = tok[2];
      const auto unit_slash = g.find('/');
      if (unit_slash != std::string_view::npos) {
        s.units = std::string(g.substr(unit_slash + 1));
        if (s.units.empty()) fail(line, "units", "empty units after '/'", "e.g. 1000/mV");
        g = g.substr(0, unit_slash);
      }
      const auto paren = g.find('(');
      if (paren != std::string_view::npos) {
        if (g.back() != ')') fail(line, "baseline", "unterminated " + quote_token(tok[2]), "gain(baseline)/units");
        s.baseline = int_field<std::int32_t>(g.substr(paren + 1, g.size() - paren - 2), line,
                                             "baseline", "an integer in parentheses");
        s.baseline_given = true;
        g = g.substr(0, paren);
      }
      s.adc_gain = real_field(g, line, "adc_gain", "a positive number such as 1000");
      s.adc_gain_given = true;
      if (s.adc_gain == 0.0) {
        if (!options_.zero_gain_means_default) {
          error_location where;
          where.file = path_;
          where.line = line;
          where.field = "adc_gain";
          throw data_error(where, "ADC gain is 0 (physical values would be undefined)",
                           "a non-zero gain, or wfdb_parse_options::zero_gain_means_default");
        }
        s.adc_gain = 200.0;
        s.adc_gain_given = false;
      }
      // Physical = (digital - baseline) / gain, where |digital - baseline| < 2^32: a gain this
      // small (1e-300) turns valid samples into infinities that nothing downstream flags.
      if (!std::isfinite(4294967296.0 / s.adc_gain)) {
        error_location where;
        where.file = path_;
        where.line = line;
        where.field = "adc_gain";
        throw data_error(where, "ADC gain " + std::string(g) + " is so small that physical values overflow",
                         "a gain of magnitude at least 2^32 / DBL_MAX (about 2.4e-299)");
      }
    }
    if (tok.size() >= 4) {
      s.adc_resolution = int_field<int>(tok[3], line, "adc_resolution", "a bit count such as 12 or 16");
      if (s.adc_resolution < 0 || s.adc_resolution > 32) fail(line, "adc_resolution", "got " + std::string(tok[3]), "0 to 32 bits");
      if (s.adc_resolution == 0) s.adc_resolution = bits;
    }
    if (tok.size() >= 5) s.adc_zero = int_field<std::int32_t>(tok[4], line, "adc_zero", "an integer");
    if (!s.baseline_given) s.baseline = s.adc_zero;
    s.initial_value = s.adc_zero;
    if (tok.size() >= 6) s.initial_value = int_field<std::int32_t>(tok[5], line, "initial_value", "an integer");
    if (tok.size() >= 7) s.checksum = int_field<std::int32_t>(tok[6], line, "checksum", "an integer");
    if (tok.size() >= 8) {
      s.block_size = int_field<int>(tok[7], line, "block_size", "a non-negative integer");
      if (s.block_size < 0) fail(line, "block_size", "got " + std::string(tok[7]), "a non-negative integer");
    }
    if (tok.size() >= 9) s.description = std::string(trim(text.substr(t.starts[8])));
    return s;
  }

  wfdb_segment_spec segment_line(std::string_view text, std::int64_t line) const {
    const auto t = split_tokens(text);
    wfdb_segment_spec s;
    s.line = line;
    s.name = std::string(t.tokens[0]);
    if (t.tokens.size() < 2) fail(line, "segment length", "segment line has no sample count", "name n_samples");
    s.n_samples = int_field<std::int64_t>(t.tokens[1], line, "segment length", "a non-negative integer");
    if (s.n_samples < 0) fail(line, "segment length", "got " + std::string(t.tokens[1]), "a non-negative integer");
    return s;
  }

  static void comment_line(std::string_view text, std::int64_t line, wfdb_header& h) {
    const std::string_view body = trim(text);
    const std::string whole(body);
    if (!body.empty() && body.front() == '<') {
      // MIT style: "<age>: 25  <sex>: M  <diagnoses>: (none)"
      std::size_t pos = 0;
      bool any = false;
      while (pos < body.size() && body[pos] == '<') {
        const auto close = body.find('>', pos);
        if (close == std::string_view::npos || close + 1 >= body.size() || body[close + 1] != ':') break;
        const auto next = body.find('<', close);
        wfdb_comment c;
        c.key = std::string(trim(body.substr(pos + 1, close - pos - 1)));
        c.value = std::string(trim(body.substr(close + 2, next == std::string_view::npos ? std::string_view::npos : next - close - 2)));
        c.text = whole;
        c.line = line;
        h.comments.push_back(std::move(c));
        any = true;
        if (next == std::string_view::npos) break;
        pos = next;
      }
      if (any) return;
    }
    wfdb_comment c;
    c.text = whole;
    c.line = line;
    const auto colon = body.find(':');
    if (colon != std::string_view::npos && colon > 0) {
      c.key = std::string(trim(body.substr(0, colon)));
      c.value = std::string(trim(body.substr(colon + 1)));
    } else {
      c.value = whole;
    }
    h.comments.push_back(std::move(c));
  }

  wfdb_header parse(std::string_view text) const {
    wfdb_header h;
    h.path = path_;
    bool have_record_line = false;
    std::int64_t line_number = 0;
    std::int64_t record_line_number = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
      auto end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find('\0') != std::string_view::npos) {
        fail(line_number, "header text", "NUL byte in header text", "a text file (is this a signal file?)");
      }
      const std::string_view body = trim(line);
      if (body.empty()) continue;
      if (body.front() == '#') {
        comment_line(body.substr(1), line_number, h);
        continue;
      }
      if (!have_record_line) {
        record_line(body, line_number, h);
        have_record_line = true;
        record_line_number = line_number;
        continue;
      }
      if (h.is_multi_segment()) {
        if (static_cast<int>(h.segments.size()) >= h.n_segments) {
          fail(line_number, "segment line", "more segment lines than the " + std::to_string(h.n_segments) + " declared",
               "exactly the declared number of segment lines");
        }
        h.segments.push_back(segment_line(body, line_number));
      } else {
        if (static_cast<int>(h.signals.size()) >= h.n_signals) {
          fail(line_number, "signal line", "more signal lines than the " + std::to_string(h.n_signals) + " declared",
               "exactly the declared number of signal lines");
        }
        h.signals.push_back(signal_line(body, line_number));
      }
    }
    if (!have_record_line) fail(1, "record line", "header has no record line", "'name n_signals fs n_samples'");
    if (h.is_multi_segment()) {
      if (static_cast<int>(h.segments.size()) != h.n_segments) {
        fail(record_line_number, "number of segments",
             "record line declares " + std::to_string(h.n_segments) + " segments but the header has " +
                 std::to_string(h.segments.size()) + " segment lines",
             "one segment line per declared segment");
      }
    } else if (static_cast<int>(h.signals.size()) != h.n_signals) {
      fail(record_line_number, "number of signals",
           "record line declares " + std::to_string(h.n_signals) + " signals but the header has " +
               std::to_string(h.signals.size()) + " signal lines",
           "one signal line per declared signal");
    }
    return h;
  }

 private:
  std::string path_;
  wfdb_parse_options options_;
};

}  // namespace detail

/// Parses header text; `path` is only used in error messages (WFDB header(5)).
[[nodiscard]] inline wfdb_header parse_wfdb_header(std::string_view text, const std::string& path = "<header>",
                                                   wfdb_parse_options options = {}) {
  return detail::header_parser(path, options).parse(text);
}

/// Reads and parses a header file. Throws io_error if the file cannot be read or is not a
/// regular file (a FIFO, a directory or a device is refused before anything is read from it).
[[nodiscard]] inline wfdb_header read_wfdb_header(const std::string& path, wfdb_parse_options options = {}) {
  constexpr std::size_t max_header_bytes = std::size_t{64} << 20;
  const std::string text =
      detail::read_regular_text_file(path, in_file(path), "a WFDB header (.hea, a few lines of text)", max_header_bytes);
  return parse_wfdb_header(text, path, options);
}

}  // namespace ecgssl::io

#pragma once
/// \file challenge_output.hpp
/// One classifier output file in the PhysioNet/CinC Challenge 2021 format (spec §6.2), as
/// `ecgssl predict` writes it and `ecgssl score` reads it:
///   line 1: `#` + record id
///   line 2: the class names, comma-separated (the 26 scored classes as weights.csv names them,
///           "733534002|164909002" for an equivalence class)
///   line 3: binary decisions (0/1), comma-separated
///   line 4: probabilities, comma-separated
/// When reading, a class may also be named by any single SNOMED code of its equivalence class;
/// classes missing from a file count as "not predicted, probability 0"; unscored codes are ignored
/// (the Challenge's evaluate_model.py does the same).

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "challenge_labels.hpp"
#include "detail/regular_file.hpp"

namespace ecgssl::io {

/// The decisions and probabilities of one record, in Challenge class order.
struct challenge_output {
  std::string record_id;
  std::array<float, io::challenge_class_count> decisions{};      ///< 0 or 1
  std::array<float, io::challenge_class_count> probabilities{};  ///< in [0, 1]

  /// The four lines of the format (probabilities with 6 significant digits).
  [[nodiscard]] std::string to_text() const {
    std::ostringstream s;
    s << '#' << record_id << '\n';
    for (std::size_t c = 0; c < io::challenge_class_count; ++c) s << (c ? "," : "") << io::challenge_class_codes(c);
    s << '\n';
    for (std::size_t c = 0; c < io::challenge_class_count; ++c) s << (c ? "," : "") << (decisions[c] != 0 ? 1 : 0);
    s << '\n' << std::setprecision(6);
    for (std::size_t c = 0; c < io::challenge_class_count; ++c) s << (c ? "," : "") << probabilities[c];
    s << '\n';
    return s.str();
  }

  /// Writes `<dir>/<record_id>.csv` (io_error if it cannot); returns the path.
  std::filesystem::path save(const std::filesystem::path& dir) const {
    const std::filesystem::path path = dir / (record_id + ".csv");
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << to_text();
    out.close();
    if (!out) throw io_error(in_file(path.string()), "cannot write the output file", "a writable folder");
    return path;
  }

  /// Parses the format; `source` names the file in errors (data_error with the line and field).
  static challenge_output parse(std::string_view text, const std::string& source) {
    std::vector<std::string> lines;
    {
      std::string line;
      std::istringstream in{std::string(text)};
      while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) lines.push_back(line);
      }
    }
    if (lines.size() < 4) {
      throw data_error(in_file(source, "line " + std::to_string(lines.size() + 1)),
                       "the file has " + std::to_string(lines.size()) + " non-empty lines",
                       "4 lines: #record id, class codes, binary outputs, probabilities");
    }
    if (lines[0].empty() || lines[0][0] != '#') {
      throw data_error(in_file(source, "line 1"), "'" + lines[0] + "'", "'#' followed by the record id");
    }
    challenge_output out;
    out.record_id = trim(std::string_view(lines[0]).substr(1));
    const auto classes = split(lines[1]);
    const auto decisions = split(lines[2]);
    const auto probabilities = split(lines[3]);
    if (decisions.size() != classes.size() || probabilities.size() != classes.size()) {
      throw data_error(in_file(source, "line " + std::string(decisions.size() != classes.size() ? "3" : "4")),
                       std::to_string(decisions.size() != classes.size() ? decisions.size() : probabilities.size()) +
                           " values for " + std::to_string(classes.size()) + " classes",
                       "one value per class of line 2");
    }
    for (std::size_t i = 0; i < classes.size(); ++i) {
      const auto c = class_of(classes[i], source);
      const double d = number(decisions[i], source, 3, i);
      const double p = number(probabilities[i], source, 4, i);
      if (d != 0.0 && d != 1.0) {
        throw data_error(in_file(source, "line 3, value " + std::to_string(i + 1)), "'" + decisions[i] + "'", "0 or 1");
      }
      if (!(p >= 0.0 && p <= 1.0)) {
        throw data_error(in_file(source, "line 4, value " + std::to_string(i + 1)), "'" + probabilities[i] + "'",
                         "a probability in [0, 1]");
      }
      if (!c) continue;  // unscored class
      out.decisions[*c] = std::max(out.decisions[*c], static_cast<float>(d));
      out.probabilities[*c] = std::max(out.probabilities[*c], static_cast<float>(p));
    }
    return out;
  }

  /// Reads and parses one file (io_error if it cannot be read).
  static challenge_output load(const std::filesystem::path& path) {
    return parse(detail::read_regular_text_file(path.string(), in_file(path.string()),
                                                "a Challenge output file (four lines of text)", std::size_t{1} << 20),
                 path.string());
  }

 private:
  static std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
  }
  static std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> out;
    std::size_t begin = 0;
    while (begin <= line.size()) {
      const std::size_t comma = std::min(line.find(',', begin), line.size());
      out.push_back(trim(std::string_view(line).substr(begin, comma - begin)));
      begin = comma + 1;
    }
    return out;
  }
  static double number(const std::string& token, const std::string& source, int line, std::size_t i) {
    char* end = nullptr;
    const double v = std::strtod(token.c_str(), &end);
    if (token.empty() || end != token.c_str() + token.size() || !std::isfinite(v)) {
      throw data_error(in_file(source, "line " + std::to_string(line) + ", value " + std::to_string(i + 1)),
                       "'" + token + "' is not a finite number", "a number");
    }
    return v;
  }
  /// The scored class named by a weights.csv header ("a|b") or by one code; nothing if unscored.
  static std::optional<std::size_t> class_of(const std::string& name, const std::string& source) {
    for (std::size_t c = 0; c < io::challenge_class_count; ++c) {
      if (name == io::challenge_class_codes(c)) return c;
    }
    std::optional<std::size_t> found;
    std::size_t begin = 0;
    while (begin <= name.size()) {
      const std::size_t bar = std::min(name.find('|', begin), name.size());
      const std::string token = trim(std::string_view(name).substr(begin, bar - begin));
      std::uint64_t code = 0;
      const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), code);
      if (token.empty() || ec != std::errc() || ptr != token.data() + token.size()) {
        throw data_error(in_file(source, "line 2"), "'" + name + "' is not a SNOMED CT code",
                         "class names such as 164889003 or 733534002|164909002");
      }
      if (!found) found = io::challenge_class_of(code);
      begin = bar + 1;
    }
    return found;
  }
};

}  // namespace ecgssl::io

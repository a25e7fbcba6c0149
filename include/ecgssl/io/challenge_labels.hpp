#pragma once
/// \file challenge_labels.hpp
/// The PhysioNet/CinC Challenge 2021 label space (spec §2.3): the 26 scored classes in the column
/// order of the Challenge's weights.csv, the equivalence classes written "a|b" there, SNOMED CT
/// code -> class index, multi-hot label vectors from a header's #Dx code list (spec §2.2: a class
/// is positive if any of its equivalent codes is present; unscored codes are ignored), and the
/// 26x26 weight matrix of the Challenge metric.
///
/// The tables are compiled in (detail/challenge_label_tables.hpp, transcribed from the files
/// shipped in data/cinc2021/ by tools/gen_challenge_label_tables.py), so no file is needed at run
/// time; a test re-reads the shipped CSVs and compares.

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "detail/challenge_label_tables.hpp"
#include "lead_names.hpp"

namespace ecgssl::io {

/// Number of scored classes (num_labels: 26).
inline constexpr std::size_t challenge_class_count = 26;

/// Index of the sinus-rhythm ("NSR", 426783006) class, the Challenge metric's inactive class.
inline constexpr std::size_t sinus_rhythm_class = 14;

/// A multi-hot label vector in class order.
using challenge_label_vector = std::array<float, challenge_class_count>;

/// The class's abbreviation as written in weights_abbreviations.csv ("AF", "CLBBB|LBBB").
[[nodiscard]] constexpr std::string_view challenge_class_abbreviation(std::size_t index) {
  return detail::challenge_class_rows.at(index).abbreviation;
}

/// The class's SNOMED CT codes as written in weights.csv ("164889003", "733534002|164909002").
[[nodiscard]] constexpr std::string_view challenge_class_codes(std::size_t index) {
  return detail::challenge_class_rows.at(index).header;
}

/// The scored class of a SNOMED CT code, or nothing for an unscored code.
[[nodiscard]] constexpr std::optional<std::size_t> challenge_class_of(std::uint64_t code) {
  const auto& rows = detail::challenge_code_rows;
  const auto it = std::lower_bound(rows.begin(), rows.end(), code,
                                   [](const detail::code_row& row, std::uint64_t c) { return row.code < c; });
  if (it == rows.end() || it->code != code) return std::nullopt;
  return it->class_index;
}

/// The abbreviation of one scored SNOMED CT code (59118001 -> "RBBB"), or nothing.
[[nodiscard]] constexpr std::optional<std::string_view> scored_code_abbreviation(std::uint64_t code) {
  for (const auto& row : detail::challenge_code_rows) {
    if (row.code == code) return row.abbreviation;
  }
  return std::nullopt;
}

/// The class named by an abbreviation, case-insensitively: a member's ("RBBB", "CRBBB") or the
/// whole class's ("CRBBB|RBBB"). Nothing if no class has that name.
[[nodiscard]] constexpr std::optional<std::size_t> challenge_class_by_abbreviation(std::string_view name) {
  const std::string_view trimmed = detail::trim(name);
  for (std::size_t i = 0; i < challenge_class_count; ++i) {
    if (detail::iequals(trimmed, detail::challenge_class_rows[i].abbreviation)) return i;
  }
  for (const auto& row : detail::challenge_code_rows) {
    if (detail::iequals(trimmed, row.abbreviation)) return row.class_index;
  }
  return std::nullopt;
}

/// Entry (i, j) of the Challenge's 26x26 weight matrix (rows = labels, columns = outputs).
[[nodiscard]] constexpr double challenge_weight(std::size_t i, std::size_t j) {
  return detail::challenge_weight_rows.at(i).at(j);
}

/// The whole weight matrix, row-major.
[[nodiscard]] constexpr const std::array<std::array<double, challenge_class_count>, challenge_class_count>&
challenge_weights() {
  return detail::challenge_weight_rows;
}

/// Splits a #Dx value ("164889003,59118001" or with blanks) into SNOMED CT codes. A token that is
/// not a decimal code throws data_error naming it; `where` says which file and line it came from.
[[nodiscard]] inline std::vector<std::uint64_t> parse_dx_codes(std::string_view text,
                                                               error_location where = at_field("Dx")) {
  std::vector<std::uint64_t> codes;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ',' || detail::is_blank(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && text[end] != ',' && !detail::is_blank(text[end])) ++end;
    const std::string_view token = text.substr(i, end - i);
    std::uint64_t code = 0;
    const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), code);
    if (ec != std::errc() || ptr != token.data() + token.size()) {
      if (where.field.empty()) where.field = "Dx";
      throw data_error(where, "'" + std::string(token) + "' is not a SNOMED CT code",
                       "comma-separated decimal SNOMED CT codes such as 164889003,59118001");
    }
    codes.push_back(code);
    i = end;
  }
  return codes;
}

/// Multi-hot label vector of a code list: class c is 1 iff any of its equivalent codes occurs.
/// Unscored codes are ignored; a list without scored codes gives all zeros (spec §2.2).
[[nodiscard]] inline challenge_label_vector make_challenge_labels(std::span<const std::uint64_t> codes) {
  challenge_label_vector labels{};
  for (auto code : codes) {
    if (const auto c = challenge_class_of(code)) labels[*c] = 1.0f;
  }
  return labels;
}

/// Multi-hot label vector straight from a #Dx value.
[[nodiscard]] inline challenge_label_vector make_challenge_labels(std::string_view dx_text,
                                                                  error_location where = at_field("Dx")) {
  const auto codes = parse_dx_codes(dx_text, std::move(where));
  return make_challenge_labels(std::span<const std::uint64_t>(codes));
}

}  // namespace ecgssl::io

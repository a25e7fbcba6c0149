#pragma once
/// \file wfdb_manifest.hpp
/// Manifest entries (io/manifest.hpp) from WFDB headers: what a record holds (rate, length,
/// leads, #Dx codes, age, sex), read from its header alone, without the signal.

#include <cmath>
#include <exception>
#include <filesystem>
#include <optional>
#include <string_view>
#include <string>

#include "challenge_labels.hpp"
#include "lead_names.hpp"
#include "manifest.hpp"
#include "wfdb_header.hpp"

namespace ecgssl::io {

namespace detail {

/// Whether `text` is well-formed UTF-8 (no stray continuation byte, no truncated or overlong
/// sequence, no surrogate, nothing above U+10FFFF).
[[nodiscard]] inline bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    char32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      extra = 1, code = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2, code = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3, code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      code = (code << 6) | (d & 0x3f);
    }
    const bool overlong_or_surrogate = extra == 2 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff));
    const bool out_of_range = extra == 3 && (code < 0x10000 || code > 0x10ffff);
    if (overlong_or_surrogate || out_of_range) return false;
    i += extra + 1;
  }
  return true;
}

/// Why the lead names of a record cannot be placed in the 12 standard slots unambiguously: a
/// name that is not text, or two names for one slot (the second would overwrite the first).
/// nullopt when they can. Names outside the 12 standard leads are allowed (they are not used).
[[nodiscard]] inline std::optional<std::string> lead_names_problem(const std::vector<std::string>& leads) {
  std::optional<std::size_t> first_of[standard_lead_count];
  for (std::size_t l = 0; l < leads.size(); ++l) {
    if (!is_utf8(leads[l])) {
      return "the name of signal " + std::to_string(l + 1) + " is not UTF-8 text";
    }
    const auto slot = standard_lead_index(leads[l]);
    if (!slot) continue;
    if (first_of[*slot]) {
      return "lead " + std::string(canonical_lead_names[*slot]) + " is named twice (signals " +
             std::to_string(*first_of[*slot] + 1) + " '" + leads[*first_of[*slot]] + "' and " + std::to_string(l + 1) +
             " '" + leads[l] + "')";
    }
    first_of[*slot] = l;
  }
  return std::nullopt;
}

}  // namespace detail

/// The manifest entry of the record whose header is `header_path`; `path` is left empty for the
/// caller to fill (absolute, or relative to a data root). A multi-segment record, and one whose
/// lead names are ambiguous (named twice, or not UTF-8), come back with a skip reason; a malformed #Dx code throws data_error naming the file (scan_records turns it
/// into a skip reason).
inline manifest_entry read_manifest_entry(const std::filesystem::path& header_path) {
  const wfdb_header h = read_wfdb_header(header_path.string());
  manifest_entry e;
  e.sampling_frequency = h.fs;
  e.samples = h.n_samples;
  if (h.is_multi_segment()) {
    e.skip_reason = "multi-segment record (not used for pre-training)";
    return e;
  }
  for (const auto& s : h.signals) e.leads.push_back(s.description);
  // A lead named twice would silently overwrite the other in its slot; a name that is not text
  // would silently zero-fill a lead the record has: both make the record unusable, with a reason.
  if (auto problem = detail::lead_names_problem(e.leads)) {
    e.skip_reason = *problem;
    return e;
  }
  if (auto dx = h.comment_value("Dx")) e.labels = parse_dx_codes(*dx, in_file(header_path.string(), "Dx"));
  if (auto age = h.comment_value("Age")) {
    try {
      std::size_t used = 0;
      const double a = std::stod(*age, &used);
      if (used == age->size() && std::isfinite(a)) e.age = a;
    } catch (const std::exception&) {
      // an unreadable age is no reason to drop a record: the entry simply has none
    }
  }
  if (auto sex = h.comment_value("Sex")) e.sex = *sex;
  e.record_id = header_path.stem().string();
  return e;
}

}  // namespace ecgssl::io

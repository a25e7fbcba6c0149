#pragma once
/// \file wfdb_manifest.hpp
/// Manifest entries (io/manifest.hpp) from WFDB headers: what a record holds (rate, length,
/// leads, #Dx codes, age, sex), read from its header alone, without the signal.

#include <cmath>
#include <exception>
#include <filesystem>
#include <string>

#include "challenge_labels.hpp"
#include "manifest.hpp"
#include "wfdb_header.hpp"

namespace ecgssl::io {

/// The manifest entry of the record whose header is `header_path`; `path` is left empty for the
/// caller to fill (absolute, or relative to a data root). A multi-segment record comes back with
/// a skip reason; a malformed #Dx code throws data_error naming the file (scan_records turns it
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

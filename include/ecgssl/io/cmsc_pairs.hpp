#pragma once
/// \file cmsc_pairs.hpp
/// CMSC training pairs (spec §2.4, `convert_to_clocs_manifest.py`): the 5 s segments available
/// for training are grouped by record (in order of first appearance), each record's segment
/// indices are sorted and paired (s0, s1), (s2, s3), ...; an odd leftover is dropped, and so is a
/// record with fewer than two segments. If a record lost segments to valid/test, the remaining
/// ones are still paired consecutively in sorted order (they may not be adjacent in time), as in
/// the reference.

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../core/error.hpp"

namespace ecgssl::io {

/// One segment: record identity and 0-based segment index within the record.
struct segment_ref {
  std::string record_id;
  std::size_t segment = 0;
  friend bool operator==(const segment_ref&, const segment_ref&) = default;
};

/// Two segments of one record, first < second.
struct cmsc_pair {
  std::string record_id;
  std::size_t first = 0;
  std::size_t second = 0;
  friend bool operator==(const cmsc_pair&, const cmsc_pair&) = default;
};

/// Splits a reference segment file name "<record>_<index>[.ext]" ("A0001_3.mat" -> A0001, 3) at
/// its last underscore, as the reference does (`name[:name.rindex("_")]`).
[[nodiscard]] inline segment_ref parse_segment_name(std::string_view name) {
  std::string_view stem = name;
  const auto slash = stem.find_last_of('/');
  if (slash != std::string_view::npos) stem.remove_prefix(slash + 1);
  const auto dot = stem.find_last_of('.');
  if (dot != std::string_view::npos) stem = stem.substr(0, dot);
  const auto underscore = stem.find_last_of('_');
  std::size_t index = 0;
  if (underscore != std::string_view::npos && underscore > 0) {
    const std::string_view digits = stem.substr(underscore + 1);
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (!digits.empty() && ec == std::errc() && ptr == digits.data() + digits.size()) {
      const std::size_t cut = static_cast<std::size_t>(stem.data() - name.data()) + underscore;
      return {std::string(name.substr(0, cut)), index};
    }
  }
  throw data_error(at_field("segment file"), "'" + std::string(name) + "' has no segment index",
                   "a name like A0001_3.mat (record, underscore, segment index)");
}

/// CMSC pairs from the available segments (see above).
[[nodiscard]] inline std::vector<cmsc_pair> make_cmsc_pairs(std::span<const segment_ref> segments) {
  std::unordered_map<std::string, std::size_t> position;
  std::vector<std::pair<std::string, std::vector<std::size_t>>> records;
  for (const auto& s : segments) {
    const auto [it, inserted] = position.try_emplace(s.record_id, records.size());
    if (inserted) records.emplace_back(s.record_id, std::vector<std::size_t>{});
    records[it->second].second.push_back(s.segment);
  }
  std::vector<cmsc_pair> pairs;
  for (auto& [record, indices] : records) {
    std::sort(indices.begin(), indices.end());
    const auto twice = std::adjacent_find(indices.begin(), indices.end());
    if (twice != indices.end()) {
      throw data_error(at_field("segment"), "segment " + std::to_string(*twice) + " of record " + record +
                                                " is listed twice",
                       "each segment of a record at most once");
    }
    for (std::size_t i = 0; i + 1 < indices.size(); i += 2) pairs.push_back({record, indices[i], indices[i + 1]});
  }
  return pairs;
}

/// Every complete segment of records with the given segment counts, in record order.
[[nodiscard]] inline std::vector<segment_ref> all_segments(std::span<const std::string> record_ids,
                                                           std::span<const std::size_t> segment_counts) {
  if (record_ids.size() != segment_counts.size()) {
    throw config_error(at_field("segment_counts"), std::to_string(segment_counts.size()) + " counts for " +
                                                       std::to_string(record_ids.size()) + " records",
                       "one count per record");
  }
  std::vector<segment_ref> out;
  for (std::size_t r = 0; r < record_ids.size(); ++r) {
    for (std::size_t s = 0; s < segment_counts[r]; ++s) out.push_back({record_ids[r], s});
  }
  return out;
}

}  // namespace ecgssl::io

#pragma once
/// \file paired_source.hpp
/// CMSC items (spec §2.4/§2.5): item i = two segments of one record, read from a single-segment
/// source. The pairs come from io::make_cmsc_pairs over the inner source's metadata
/// (consecutive sorted segments of each record; odd leftovers dropped).

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../io/cmsc_pairs.hpp"
#include "segment_source.hpp"

namespace ecgssl::data {

/// Pairs of segments of an inner source; parts() = 2.
template <segment_source Inner>
class paired_source {
 public:
  /// Explicit pairs of inner item indices.
  paired_source(std::shared_ptr<const Inner> inner, std::vector<std::pair<std::size_t, std::size_t>> pairs)
      : inner_(std::move(inner)), pairs_(std::move(pairs)) {
    for (const auto& [a, b] : pairs_) {
      if (a >= inner_->size() || b >= inner_->size()) {
        throw config_error(at_field("pairs"), "pair (" + std::to_string(a) + ", " + std::to_string(b) + ")",
                           "indices below " + std::to_string(inner_->size()));
      }
    }
  }

  /// CMSC pairs from the record id and segment index of every inner item (`inner->meta(i)`,
  /// which in_memory_source and record_source provide).
  static paired_source from_records(std::shared_ptr<const Inner> inner) {
    std::vector<io::segment_ref> refs;
    std::unordered_map<std::string, std::unordered_map<std::size_t, std::size_t>> index;
    for (std::size_t i = 0; i < inner->size(); ++i) {
      const auto& m = inner->meta(i);
      refs.push_back({m.record_id, m.segment});
      index[m.record_id][m.segment] = i;
    }
    std::vector<std::pair<std::size_t, std::size_t>> pairs;
    for (const auto& p : io::make_cmsc_pairs(refs)) {
      pairs.emplace_back(index[p.record_id][p.first], index[p.record_id][p.second]);
    }
    return paired_source(std::move(inner), std::move(pairs));
  }

  [[nodiscard]] std::size_t size() const { return pairs_.size(); }
  [[nodiscard]] std::size_t parts() const { return 2; }
  [[nodiscard]] const std::pair<std::size_t, std::size_t>& pair(std::size_t i) const { return pairs_.at(i); }

  void read(std::size_t item, std::size_t part, tensor<float, 2>& x, segment_meta& meta) const {
    const auto& p = pairs_.at(item);
    inner_->read(part == 0 ? p.first : p.second, 0, x, meta);
  }

 private:
  std::shared_ptr<const Inner> inner_;
  std::vector<std::pair<std::size_t, std::size_t>> pairs_;
};

}  // namespace ecgssl::data

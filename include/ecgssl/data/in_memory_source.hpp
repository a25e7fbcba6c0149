#pragma once
/// \file in_memory_source.hpp
/// A segment_source over segments held in memory (tests, small data sets, cached pre-processing).

#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "segment_source.hpp"

namespace ecgssl::data {

/// One segment per item.
class in_memory_source {
 public:
  in_memory_source() = default;
  in_memory_source(std::vector<tensor<float, 2>> segments, std::vector<segment_meta> meta)
      : segments_(std::move(segments)), meta_(std::move(meta)) {
    if (segments_.size() != meta_.size()) {
      throw config_error(at_field("meta"), std::to_string(meta_.size()) + " metadata rows for " +
                                               std::to_string(segments_.size()) + " segments",
                         "one metadata row per segment");
    }
  }

  void add(tensor<float, 2> segment, segment_meta meta) {
    segments_.push_back(std::move(segment));
    meta_.push_back(std::move(meta));
  }

  [[nodiscard]] std::size_t size() const { return segments_.size(); }
  [[nodiscard]] std::size_t parts() const { return 1; }
  [[nodiscard]] const segment_meta& meta(std::size_t i) const { return meta_.at(i); }

  void read(std::size_t item, std::size_t, tensor<float, 2>& x, segment_meta& meta) const {
    x = segments_.at(item);
    meta = meta_.at(item);
  }

 private:
  std::vector<tensor<float, 2>> segments_;
  std::vector<segment_meta> meta_;
};

}  // namespace ecgssl::data

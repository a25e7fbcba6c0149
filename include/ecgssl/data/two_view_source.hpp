#pragma once
/// \file two_view_source.hpp
/// SimCLR items (spec §4.5): item i = segment i of an inner single-segment source, twice; the
/// loader's transform and masking give each part its own random stream, so the two parts are two
/// independently augmented views (e.g. two RLM draws).

#include <memory>
#include <utility>

#include "../core/error.hpp"
#include "segment_source.hpp"

namespace ecgssl::data {

/// Two views of every segment of `Inner`; parts() = 2.
template <segment_source Inner>
class two_view_source {
 public:
  explicit two_view_source(std::shared_ptr<const Inner> inner) : inner_(std::move(inner)) {
    if (!inner_) throw config_error(at_field("source"), "no source", "a segment source");
  }
  [[nodiscard]] std::size_t size() const { return inner_->size(); }
  [[nodiscard]] std::size_t parts() const { return 2; }
  void read(std::size_t item, std::size_t, tensor<float, 2>& x, segment_meta& meta) const {
    inner_->read(item, 0, x, meta);
  }

 private:
  std::shared_ptr<const Inner> inner_;
};

}  // namespace ecgssl::data

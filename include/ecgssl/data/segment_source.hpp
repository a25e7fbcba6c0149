#pragma once
/// \file segment_source.hpp
/// What the batch loader reads from: a random-access collection of items, each made of parts()
/// segments (1 for plain segments, 2 for a CMSC pair, spec §2.5) of shape [leads, samples].
/// Implementations must allow concurrent `read` calls from several threads (it is const).

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/tensor.hpp"

namespace ecgssl::data {

/// Per-segment metadata that travels with a batch.
struct segment_meta {
  std::string record_id;      ///< record identity (spec §2.2: identity = record)
  std::size_t segment = 0;    ///< segment index within the record
  std::vector<float> labels;  ///< multi-hot labels (26 Challenge classes), empty if unlabelled
  std::int64_t identity = -1; ///< identification label, -1 if none
  friend bool operator==(const segment_meta&, const segment_meta&) = default;
};

/// A source of segments: `size()` items of `parts()` segments; `read(item, part, x, meta)` fills
/// x: [leads, samples] (resizing it if needed) and meta. Must be safe to call concurrently.
template <class S>
concept segment_source = requires(const S& s, std::size_t i, tensor<float, 2>& x, segment_meta& meta) {
  { s.size() } -> std::convertible_to<std::size_t>;
  { s.parts() } -> std::convertible_to<std::size_t>;
  s.read(i, i, x, meta);
};

}  // namespace ecgssl::data

#pragma once
/// \file record_source.hpp
/// A segment_source over the usable records of a manifest: item = (record, 5 s segment), spec
/// §2.2. The signal itself comes from a callable `tensor<float, 2>(const io::manifest_entry&)`
/// (the record reader, returning millivolts, x: [leads as listed in the entry, samples]), so this
/// header needs no file format. Each segment is placed into the 12 canonical slots by lead name
/// (spec §2.2 order; non-standard leads such as MLII are left out, missing leads are zero), its
/// labels are the Challenge multi-hot vector of the entry's #Dx codes (spec §2.3), and its
/// identity is the record's position among the usable records (spec §2.2: identity = record).
///
/// A record is read once per segment that is requested (no cache): simple and thread-safe; wrap
/// the reader in a cache if records are long and storage is slow.

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../io/challenge_labels.hpp"
#include "../io/lead_names.hpp"
#include "../io/manifest.hpp"
#include "segment_source.hpp"

namespace ecgssl::data {

/// Segments of manifest records read through a record reader.
class record_source {
 public:
  using reader = std::function<tensor<float, 2>(const io::manifest_entry&)>;

  /// All complete segments of the usable entries (optionally only `records`, indices into
  /// m.entries, e.g. one part of a split), `segment_length` samples each.
  record_source(io::manifest m, reader read, std::size_t segment_length = 2500,
                std::optional<std::vector<std::size_t>> records = std::nullopt)
      : manifest_(std::move(m)), read_(std::move(read)), length_(segment_length) {
    if (!read_) throw config_error(at_field("reader"), "no record reader", "a callable returning [leads, samples]");
    if (length_ == 0) throw config_error(at_field("segment_length"), "0", "a positive number of samples");
    const std::vector<std::size_t> chosen = records ? *records : manifest_.usable_indices();
    std::int64_t identity = 0;
    for (auto r : chosen) {
      if (r >= manifest_.entries.size()) {
        throw config_error(at_field("records"), "record index " + std::to_string(r),
                           "an index below " + std::to_string(manifest_.entries.size()));
      }
      const auto& e = manifest_.entries[r];
      if (!e.usable()) continue;
      const auto segments = static_cast<std::size_t>(e.samples) / length_;
      for (std::size_t s = 0; s < segments; ++s) items_.push_back({r, s, identity});
      ++identity;
    }
  }

  [[nodiscard]] std::size_t size() const { return items_.size(); }
  [[nodiscard]] std::size_t parts() const { return 1; }
  [[nodiscard]] const io::manifest& manifest() const { return manifest_; }

  /// Metadata of item i without reading the signal (for pairing and splitting).
  [[nodiscard]] segment_meta meta(std::size_t i) const {
    const auto& item = items_.at(i);
    const auto& e = manifest_.entries[item.record];
    segment_meta m;
    m.record_id = e.record_id;
    m.segment = item.segment;
    const auto labels = io::make_challenge_labels(std::span<const std::uint64_t>(e.labels));
    m.labels.assign(labels.begin(), labels.end());
    m.identity = item.identity;
    return m;
  }

  void read(std::size_t i, std::size_t, tensor<float, 2>& x, segment_meta& meta_out) const {
    const auto& item = items_.at(i);
    const auto& e = manifest_.entries[item.record];
    const tensor<float, 2> signal = read_(e);
    if (signal.shape()[0] != e.leads.size() || signal.shape()[1] < (item.segment + 1) * length_) {
      throw shape_error(in_file(e.path, "signal"), "reader returned shape " + shape_string(signal.shape()),
                        std::to_string(e.leads.size()) + " leads and at least " +
                            std::to_string((item.segment + 1) * length_) + " samples, as in the manifest");
    }
    if (x.shape()[0] != io::standard_lead_count || x.shape()[1] != length_) x.resize({io::standard_lead_count, length_});
    std::fill(x.begin(), x.end(), 0.0f);
    std::uint32_t filled = 0;
    const std::size_t n = signal.shape()[1];
    for (std::size_t l = 0; l < e.leads.size(); ++l) {
      const auto slot = io::standard_lead_index(e.leads[l]);
      if (!slot) continue;  // non-standard lead: no canonical slot
      if (filled & (1u << *slot)) {
        throw data_error(in_file(e.path, "leads"), "lead " + std::string(io::canonical_lead_names[*slot]) + " appears twice",
                         "each lead once");
      }
      filled |= 1u << *slot;
      std::copy_n(signal.data() + l * n + item.segment * length_, length_, x.data() + *slot * length_);
    }
    meta_out = meta(i);
  }

 private:
  struct item_ref {
    std::size_t record;
    std::size_t segment;
    std::int64_t identity;
  };

  io::manifest manifest_;
  reader read_;
  std::size_t length_;
  std::vector<item_ref> items_;
};

}  // namespace ecgssl::data

#pragma once
/// \file segment_set.hpp
/// The 5 s segments of a fine-tuning or evaluation split held in memory (spec §2.2, §6): signals
/// [N, 12, samples] in the 12 canonical slots, Challenge labels [N, 26], identities and record ids.
/// Fine-tuning visits every segment once per epoch for many epochs, so the records are read once
/// (the bundled data and the Challenge splits of one site fit easily: 12·2500 floats = 120 kB per
/// segment); a data set too large for memory would stream through data::batch_loader instead.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "segment_source.hpp"
#include "../io/challenge_labels.hpp"
#include "../io/lead_set.hpp"

namespace ecgssl::data {

/// Segments with their labels, identities and records, in memory.
struct segment_set {
  tensor<float, 3> signals;              ///< [N, 12, samples]
  tensor<float, 2> labels;               ///< [N, 26] multi-hot (zeros when unlabelled)
  std::vector<std::int64_t> identities;  ///< identification label per segment
  std::vector<std::string> record_ids;   ///< record of each segment

  [[nodiscard]] std::size_t size() const { return record_ids.size(); }
  [[nodiscard]] std::size_t samples() const { return signals.shape()[2]; }

  /// Reads `items` (all when empty) of any data::segment_source (e.g. data::record_source).
  template <data::segment_source Source>
  static segment_set from_source(const Source& source, std::span<const std::size_t> items = {}) {
    std::vector<std::size_t> chosen(items.begin(), items.end());
    if (items.empty()) {
      chosen.resize(source.size());
      for (std::size_t i = 0; i < chosen.size(); ++i) chosen[i] = i;
    }
    segment_set out;
    tensor<float, 2> x;
    data::segment_meta meta;
    for (std::size_t n = 0; n < chosen.size(); ++n) {
      source.read(chosen[n], 0, x, meta);
      if (x.shape()[0] != io::standard_lead_count) {
        throw shape_error(at_field("segment " + meta.record_id), "shape " + shape_string(x.shape()),
                          "[12, samples] (the 12 canonical slots)");
      }
      if (n == 0) {
        out.signals = tensor<float, 3>::from_shape({chosen.size(), x.shape()[0], x.shape()[1]});
        out.labels = xt::zeros<float>({chosen.size(), io::challenge_class_count});
      } else if (x.shape()[1] != out.signals.shape()[2]) {
        throw shape_error(at_field("segment " + meta.record_id), "shape " + shape_string(x.shape()),
                          "segments of equal length");
      }
      std::copy(x.begin(), x.end(), out.signals.data() + n * x.size());
      if (!meta.labels.empty()) {
        if (meta.labels.size() != io::challenge_class_count) {
          throw shape_error(at_field("labels of " + meta.record_id), std::to_string(meta.labels.size()) + " labels",
                            "26 Challenge classes");
        }
        std::copy(meta.labels.begin(), meta.labels.end(), out.labels.data() + n * io::challenge_class_count);
      }
      out.identities.push_back(meta.identity);
      out.record_ids.push_back(meta.record_id);
    }
    return out;
  }

  /// The segments at `items`, in that order.
  [[nodiscard]] segment_set subset(std::span<const std::size_t> items) const {
    segment_set out;
    const std::size_t seg = signals.shape()[1] * signals.shape()[2];
    out.signals = tensor<float, 3>::from_shape({items.size(), signals.shape()[1], signals.shape()[2]});
    out.labels = tensor<float, 2>::from_shape({items.size(), labels.shape()[1]});
    for (std::size_t n = 0; n < items.size(); ++n) {
      const std::size_t i = items[n];
      if (i >= size()) throw config_error(at_field("items"), "index " + std::to_string(i), "below " + std::to_string(size()));
      std::copy_n(signals.data() + i * seg, seg, out.signals.data() + n * seg);
      std::copy_n(labels.data() + i * labels.shape()[1], labels.shape()[1], out.labels.data() + n * labels.shape()[1]);
      out.identities.push_back(identities[i]);
      out.record_ids.push_back(record_ids[i]);
    }
    return out;
  }

  /// Copies segments `items` into batch: [items, 12, samples] with the leads outside `leads`
  /// zeroed (P-N-lead, spec §3.1, §6.2). `batch` is resized only when its shape differs.
  template <class T>
  void gather(std::span<const std::size_t> items, const io::lead_set& leads, tensor<T, 3>& batch) const {
    const std::size_t l = signals.shape()[1], s = signals.shape()[2];
    if (batch.shape()[0] != items.size() || batch.shape()[1] != l || batch.shape()[2] != s) batch.resize({items.size(), l, s});
    for (std::size_t n = 0; n < items.size(); ++n) {
      const float* src = signals.data() + items[n] * l * s;
      T* dst = batch.data() + n * l * s;
      for (std::size_t lead = 0; lead < l; ++lead) {
        const bool keep = leads.contains(lead);
        for (std::size_t t = 0; t < s; ++t) dst[lead * s + t] = keep ? static_cast<T>(src[lead * s + t]) : T(0);
      }
    }
  }
};

}  // namespace ecgssl::data

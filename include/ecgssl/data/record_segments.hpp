#pragma once
/// \file record_segments.hpp
/// One WFDB record as a batch of consecutive 5 s segments in the 12 canonical lead slots (spec
/// §3.1): leads outside the kept set, and leads the record lacks, are zero-filled; a tail
/// shorter than a segment is dropped. What `embed` encodes, one record at a time, after the
/// preprocessing its checkpoint was trained with (data/preprocessing.hpp).

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../io/lead_names.hpp"
#include "../io/lead_set.hpp"
#include "../io/wfdb_manifest.hpp"
#include "../io/wfdb_record.hpp"
#include "preprocessing.hpp"

namespace ecgssl::data {

/// A record cut into segments: its id and the batch [segments, 12, segment_length] in mV.
struct record_segments {
  std::string record_id;
  tensor<float, 3> segments;
};

/// Reads the record named by `name` (a header path, `.hea` optional). Refuses, naming the
/// header and field, a record that is not single-segment, not at `sampling_frequency`, or
/// shorter than one segment.
inline record_segments read_record_segments(const std::string& name, const io::lead_set& kept,
                                            std::size_t segment_length = 2500, double sampling_frequency = 500.0,
                                            preprocessing prep = preprocessing::none) {
  std::filesystem::path header(name);
  if (header.extension() != ".hea") header += ".hea";
  const io::manifest_entry e = io::read_manifest_entry(header);
  if (!e.usable()) throw data_error(in_file(header.string()), e.skip_reason, "a single-segment WFDB record");
  if (e.sampling_frequency != sampling_frequency) {
    throw data_error(in_file(header.string(), "sampling frequency"), std::to_string(e.sampling_frequency) + " Hz",
                     std::to_string(static_cast<int>(sampling_frequency)) + " Hz (resample the record first)");
  }
  const std::size_t count = static_cast<std::size_t>(e.samples) / segment_length;
  if (count == 0) {
    throw data_error(in_file(header.string(), "samples"), std::to_string(e.samples),
                     "at least " + std::to_string(segment_length) + " (one segment)");
  }
  const tensor<float, 2> signal = read_model_input(header.string(), prep);
  record_segments out{e.record_id, tensor<float, 3>::from_shape({count, io::standard_lead_count, segment_length})};
  std::fill(out.segments.begin(), out.segments.end(), 0.0f);
  const std::size_t n = signal.shape()[1];
  for (std::size_t l = 0; l < e.leads.size(); ++l) {
    const auto slot = io::standard_lead_index(e.leads[l]);
    if (!slot || !kept.contains(*slot)) continue;
    for (std::size_t s = 0; s < count; ++s) {
      std::copy_n(signal.data() + l * n + s * segment_length, segment_length,
                  out.segments.data() + (s * io::standard_lead_count + *slot) * segment_length);
    }
  }
  return out;
}

}  // namespace ecgssl::data

#pragma once
// Test helper: 5 s segments of the bundled real Challenge records (examples/data/cinc) as a
// data::segment_set, read with io::read_record and cut by data::record_source.
#include <ecgssl/data/record_source.hpp>
#include <ecgssl/io/challenge_labels.hpp>
#include <ecgssl/io/manifest.hpp>
#include <ecgssl/io/wfdb_header.hpp>
#include <ecgssl/io/wfdb_record.hpp>
#include <ecgssl/data/segment_set.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace ecgssl::test_support {

inline std::filesystem::path cinc_dir() { return std::filesystem::path(ECGSSL_SOURCE_DIR) / "examples/data/cinc"; }

/// Manifest entries of the named records (header fields only).
inline io::manifest cinc_manifest(const std::vector<std::string>& records) {
  io::manifest m;
  for (const auto& r : records) {
    const auto h = io::read_wfdb_header((cinc_dir() / (r + ".hea")).string());
    io::manifest_entry e;
    e.path = (cinc_dir() / (r + ".hea")).string();
    e.sampling_frequency = h.fs;
    e.samples = h.n_samples;
    for (const auto& s : h.signals) e.leads.push_back(s.description);
    if (auto dx = h.comment_value("Dx")) e.labels = io::parse_dx_codes(*dx);
    e.record_id = r;
    m.entries.push_back(e);
  }
  return m;
}

/// Every 5 s segment of the named records, in mV.
inline data::segment_set cinc_segments(const std::vector<std::string>& records) {
  data::record_source source(cinc_manifest(records), [](const io::manifest_entry& e) {
    const io::wfdb_record r = io::read_record(e.path);
    tensor<float, 2> x = tensor<float, 2>::from_shape({r.n_leads(), static_cast<std::size_t>(r.n_samples)});
    for (std::size_t l = 0; l < r.n_leads(); ++l) {
      for (std::size_t i = 0; i < x.shape()[1]; ++i) x(l, i) = static_cast<float>(r.physical(l, i));
    }
    return x;
  });
  return data::segment_set::from_source(source);
}

}  // namespace ecgssl::test_support

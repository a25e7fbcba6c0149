#pragma once
/// \file wfdb_dataset.hpp
/// The pre-training data set of spec §2.2 from a folder of WFDB records (or a manifest CSV written
/// by io::manifest::save): the records are scanned (500 Hz, at least one 5 s segment, otherwise
/// skipped with a reason), read in millivolts and cut into 12-slot 5 s segments by
/// data::record_source; data::paired_source makes the CMSC pairs (spec §2.4).

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../data/paired_source.hpp"
#include "../data/record_source.hpp"
#include "../io/challenge_labels.hpp"
#include "../io/manifest.hpp"
#include "../io/wfdb_header.hpp"
#include "../io/wfdb_record.hpp"

namespace ecgssl::pipeline {

/// Records of a pre-training run: the manifest, the folder its paths are relative to, and the
/// segment and pair sources built on it.
class wfdb_dataset {
 public:
  /// `path`: a folder (scanned recursively for .hea files) or a manifest .csv (paths relative to
  /// its folder). Throws data_error if no record is usable (listing why the first ones were
  /// skipped), io_error if the folder or manifest cannot be read.
  explicit wfdb_dataset(const std::filesystem::path& path, std::size_t segment_length = 2500,
                        double sampling_frequency = 500.0) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      root_ = path;
      const auto headers = io::find_files(path, ".hea");
      if (headers.empty()) {
        throw data_error(in_file(path.string()), "the folder holds no WFDB header (.hea)",
                         "a folder of WFDB records (e.g. PhysioNet 2021 .hea/.mat pairs) or a manifest .csv");
      }
      io::scan_options options;
      options.required_sampling_frequency = sampling_frequency;
      options.min_samples = static_cast<std::int64_t>(segment_length);
      options.root = path;
      manifest_ = io::scan_records(headers, &manifest_entry_of, options);
    } else if (std::filesystem::is_regular_file(path, ec)) {
      root_ = path.parent_path();
      manifest_ = io::manifest::load(path.string());
    } else {
      throw io_error(in_file(path.string()), "no such folder or file", "a folder of WFDB records or a manifest .csv");
    }
    const auto usable = manifest_.usable_indices();
    if (usable.empty()) {
      std::string why;
      for (std::size_t i = 0; i < manifest_.entries.size() && i < 3; ++i) {
        why += (i ? "; " : "") + manifest_.entries[i].path + ": " + manifest_.entries[i].skip_reason;
      }
      throw data_error(in_file(path.string()),
                       "all " + std::to_string(manifest_.entries.size()) + " records were skipped (" + why + ")",
                       "at least one readable " + std::to_string(static_cast<int>(sampling_frequency)) +
                           " Hz record of at least " + std::to_string(segment_length) + " samples");
    }
    const std::filesystem::path root = root_;
    segments_ = std::make_shared<data::record_source>(
        manifest_, [root](const io::manifest_entry& e) { return read_millivolts(root, e); }, segment_length);
    pairs_ = std::make_shared<data::paired_source<data::record_source>>(
        data::paired_source<data::record_source>::from_records(segments_));
  }

  [[nodiscard]] const io::manifest& manifest() const { return manifest_; }
  [[nodiscard]] const std::filesystem::path& root() const { return root_; }
  /// Every complete 5 s segment of the usable records (12 slots, zero-filled missing leads).
  [[nodiscard]] std::shared_ptr<const data::record_source> segments() const { return segments_; }
  /// CMSC pairs: consecutive segments of one record (spec §2.4).
  [[nodiscard]] std::shared_ptr<const data::paired_source<data::record_source>> pairs() const { return pairs_; }

  /// Header -> manifest entry (no signal read): rate, length, leads, #Dx codes, age, sex.
  static io::manifest_entry manifest_entry_of(const std::filesystem::path& header_path) {
    const io::wfdb_header h = io::read_wfdb_header(header_path.string());
    io::manifest_entry e;
    e.sampling_frequency = h.fs;
    e.samples = h.n_samples;
    if (h.is_multi_segment()) {
      e.skip_reason = "multi-segment record (not used for pre-training)";
      return e;
    }
    for (const auto& s : h.signals) e.leads.push_back(s.description);
    // A malformed code is an error naming the file (scan_records turns it into a skip reason).
    if (auto dx = h.comment_value("Dx")) e.labels = io::parse_dx_codes(*dx, in_file(header_path.string(), "Dx"));
    if (auto age = h.comment_value("Age")) {
      try {
        std::size_t used = 0;
        const double a = std::stod(*age, &used);
        if (used == age->size() && std::isfinite(a)) e.age = a;
      } catch (const std::exception&) {
      }
    }
    if (auto sex = h.comment_value("Sex")) e.sex = *sex;
    e.record_id = header_path.stem().string();
    return e;
  }

  /// Reads a record as x: [leads, samples] in mV (uV and V are converted; spec §2.2 val / gain).
  /// A record with an invalid sample (NaN) is refused (spec §2.2: records with NaN are skipped).
  static tensor<float, 2> read_millivolts(const std::filesystem::path& root, const io::manifest_entry& e) {
    const std::filesystem::path p = std::filesystem::path(e.path).is_absolute() ? std::filesystem::path(e.path) : root / e.path;
    const io::wfdb_record r = io::read_record(p.string());
    const std::size_t leads = r.n_leads();
    const auto n = static_cast<std::size_t>(r.n_samples);
    tensor<float, 2> x = tensor<float, 2>::from_shape({leads, n});
    for (std::size_t l = 0; l < leads; ++l) {
      double scale = 1.0;
      const std::string& u = r.units[l];
      if (u == "uV" || u == "uv" || u == "µV") scale = 1e-3;
      else if (u == "V" || u == "v") scale = 1e3;
      for (std::size_t i = 0; i < n; ++i) {
        const double v = r.physical(l, i);
        if (!std::isfinite(v)) {
          throw data_error(in_file(p.string(), "sample " + std::to_string(i) + " of lead " + r.leads[l]),
                           "invalid (NaN) sample", "records without missing samples (spec 2.2 skips them)");
        }
        x(l, i) = static_cast<float>(v * scale);
      }
    }
    return x;
  }

 private:
  io::manifest manifest_;
  std::filesystem::path root_;
  std::shared_ptr<data::record_source> segments_;
  std::shared_ptr<data::paired_source<data::record_source>> pairs_;
};

}  // namespace ecgssl::pipeline

#pragma once
/// \file wfdb_dataset.hpp
/// The pre-training data set of spec §2.2 from a folder of WFDB records (or a manifest CSV written
/// by io::manifest::save): the records are scanned (500 Hz, at least one 5 s segment, otherwise
/// skipped with a reason), read in millivolts (or band-passed and z-scored: data/preprocessing.hpp)
/// and cut into 12-slot 5 s segments by
/// data::record_source; data::paired_source makes the CMSC pairs (spec §2.4).

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <unordered_map>
#include <vector>
#include <string>
#include <utility>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "paired_source.hpp"
#include "preprocessing.hpp"
#include "record_source.hpp"
#include "segment_set.hpp"
#include "../io/challenge_labels.hpp"
#include "../io/manifest.hpp"
#include "../io/wfdb_manifest.hpp"
#include "../io/wfdb_record.hpp"

namespace ecgssl::data {

/// Records of a pre-training run: the manifest, the folder its paths are relative to, and the
/// segment and pair sources built on it.
class wfdb_dataset {
 public:
  /// `path`: a folder (scanned recursively for .hea files) or a manifest .csv (paths relative to
  /// its folder). Throws data_error if no record is usable (listing why the first ones were
  /// skipped), io_error if the folder or manifest cannot be read.
  explicit wfdb_dataset(const std::filesystem::path& path, std::size_t segment_length = 2500,
                        double sampling_frequency = 500.0, preprocessing prep = preprocessing::none) {
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
      manifest_ = io::scan_records(headers, &io::read_manifest_entry, options);
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
        manifest_, [root, prep](const io::manifest_entry& e) {
          const std::filesystem::path p(e.path);
          return read_model_input((p.is_absolute() ? p : root / p).string(), prep);
        }, segment_length);
    pairs_ = std::make_shared<data::paired_source<data::record_source>>(
        data::paired_source<data::record_source>::from_records(segments_));
  }

  [[nodiscard]] const io::manifest& manifest() const { return manifest_; }
  [[nodiscard]] const std::filesystem::path& root() const { return root_; }
  /// Every complete 5 s segment of the usable records (12 slots, zero-filled missing leads).
  [[nodiscard]] std::shared_ptr<const data::record_source> segments() const { return segments_; }
  /// CMSC pairs: consecutive segments of one record (spec §2.4).
  [[nodiscard]] std::shared_ptr<const data::paired_source<data::record_source>> pairs() const { return pairs_; }

 private:
  io::manifest manifest_;
  std::filesystem::path root_;
  std::shared_ptr<data::record_source> segments_;
  std::shared_ptr<data::paired_source<data::record_source>> pairs_;
};

/// Every segment of a folder or manifest (wfdb_dataset) in memory, and, when `patients` is given,
/// each segment's patient (the record when the manifest names none), for splits that keep a
/// patient's records together; when `folds` is given, each segment's manifest fold (0 = none).
inline segment_set load_segment_set(const std::filesystem::path& path, std::vector<std::string>* patients = nullptr,
                                    preprocessing prep = preprocessing::none, std::vector<int>* folds = nullptr) {
  const wfdb_dataset ds(path, 2500, 500.0, prep);
  segment_set all = segment_set::from_source(*ds.segments());
  if (folds != nullptr) {
    std::unordered_map<std::string, int> fold_of;
    for (const auto& e : ds.manifest().entries) fold_of[e.record_id] = e.fold.value_or(0);
    folds->clear();
    for (const auto& r : all.record_ids) {
      const auto found = fold_of.find(r);
      folds->push_back(found != fold_of.end() ? found->second : 0);
    }
  }
  if (patients != nullptr) {
    std::unordered_map<std::string, std::string> patient_of;
    for (const auto& e : ds.manifest().entries) patient_of[e.record_id] = e.patient_id.empty() ? e.record_id : e.patient_id;
    patients->clear();
    for (const auto& r : all.record_ids) {
      const auto found = patient_of.find(r);
      patients->push_back(found != patient_of.end() ? found->second : r);
    }
  }
  return all;
}

}  // namespace ecgssl::data

#pragma once
/// \file wfdb_dataset.hpp
/// The pre-training data set of spec §2.2 from a folder of WFDB records (or a manifest CSV written
/// by io::manifest::save): the records are scanned (500 Hz, at least one 5 s segment, otherwise
/// skipped with a reason), read in millivolts (or band-passed and z-scored: data/preprocessing.hpp)
/// and cut into 12-slot 5 s segments by
/// data::record_source; data::paired_source makes the CMSC pairs (spec §2.4).

#include <algorithm>
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

/// What a segment's label vector holds: the record's Challenge classes from its #Dx codes
/// ([N, 26], io/challenge_labels.hpp), or its PTB-XL diagnostic superclasses from the manifest's
/// `superclasses` column ([N, 5] in io::ptbxl_superclasses order).
enum class label_space { challenge, ptbxl_superclasses };

/// Every segment of a folder or manifest (wfdb_dataset) in memory, labelled in `labels`, and, when
/// `patients` is given, each segment's patient (the record when the manifest names none), for
/// splits that keep a patient's records together; when `folds` is given, each segment's manifest
/// fold (0 = none). Superclass labels need a manifest with a `superclasses` column (data_error
/// naming the path otherwise); a record without a superclass keeps an all-zero row.
inline segment_set load_segment_set(const std::filesystem::path& path, std::vector<std::string>* patients = nullptr,
                                    preprocessing prep = preprocessing::none, std::vector<int>* folds = nullptr,
                                    label_space labels = label_space::challenge) {
  const wfdb_dataset ds(path, 2500, 500.0, prep);
  segment_set all = segment_set::from_source(*ds.segments());
  std::unordered_map<std::string, const io::manifest_entry*> entry_of;
  for (const auto& e : ds.manifest().entries) entry_of[e.record_id] = &e;
  const auto entry = [&](const std::string& record) -> const io::manifest_entry* {
    const auto found = entry_of.find(record);
    return found != entry_of.end() ? found->second : nullptr;
  };
  if (folds != nullptr) {
    folds->clear();
    for (const auto& r : all.record_ids) {
      const auto* e = entry(r);
      folds->push_back(e != nullptr ? e->fold.value_or(0) : 0);
    }
  }
  if (patients != nullptr) {
    patients->clear();
    for (const auto& r : all.record_ids) {
      const auto* e = entry(r);
      patients->push_back(e != nullptr && !e->patient_id.empty() ? e->patient_id : r);
    }
  }
  if (labels == label_space::ptbxl_superclasses) {
    if (!ds.manifest().has_superclasses()) {
      throw data_error(in_file(path.string(), std::string(io::manifest::superclasses_column)), "no record has PTB-XL superclasses",
                       "a manifest written by `ecgssl manifest --ptbxl-database`");
    }
    const std::size_t classes = io::ptbxl_superclasses.size();
    all.labels = xt::zeros<float>({all.size(), classes});
    for (std::size_t i = 0; i < all.size(); ++i) {
      const auto* e = entry(all.record_ids[i]);
      if (e == nullptr) continue;
      for (const auto& name : e->superclasses) {
        const auto k = static_cast<std::size_t>(
            std::find(io::ptbxl_superclasses.begin(), io::ptbxl_superclasses.end(), name) - io::ptbxl_superclasses.begin());
        if (k < classes) all.labels(i, k) = 1.0f;
      }
    }
  }
  return all;
}

}  // namespace ecgssl::data

#pragma once
/// \file record_windows.hpp
/// A long WFDB record as a sequence of 5 s windows with a given hop, read through
/// io::wfdb_stream: the record is never held whole, only a window and one read chunk, so a
/// day-long Holter record needs the memory of a 10 s one. Windows are placed in the 12
/// canonical lead slots exactly as data::read_record_segments places segments (leads outside
/// the kept set, and leads the record lacks, are zero), so the window starting at sample
/// k x hop equals the segment cut from the whole record at that sample, bit for bit.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../io/lead_names.hpp"
#include "../io/lead_set.hpp"
#include "../io/wfdb_manifest.hpp"
#include "../io/wfdb_stream.hpp"

namespace ecgssl::data {

/// Where a window lies in its record.
struct window_position {
  std::int64_t index = 0;         ///< 0, 1, 2, ... in record order
  std::int64_t start_sample = 0;  ///< index x hop
  bool has_invalid = false;       ///< a sample of a kept lead is invalid (NaN): not to be encoded
};

/// The windows of one record, front to back.
class record_windows {
 public:
  /// Opens the record named by `name` (a header path, `.hea` optional). Refuses, naming the
  /// header and field, a record that cannot stream (io::wfdb_stream), whose lead names are
  /// ambiguous, that is not at `sampling_frequency`, or that is shorter than one window;
  /// `hop` must be at least 1 sample.
  record_windows(const std::string& name, const io::lead_set& kept, std::size_t hop, std::size_t window = 2500,
                 double sampling_frequency = 500.0, std::int64_t chunk_frames = 8192)
      : header_path_(header_of(name)), stream_(header_path_.string()), window_(window), hop_(hop), chunk_(chunk_frames) {
    const io::manifest_entry e = io::read_manifest_entry(header_path_);
    if (!e.usable()) throw data_error(in_file(header_path_.string()), e.skip_reason, "a single-segment WFDB record");
    record_id_ = e.record_id;
    if (e.sampling_frequency != sampling_frequency) {
      throw data_error(in_file(header_path_.string(), "sampling frequency"), std::to_string(e.sampling_frequency) + " Hz",
                       std::to_string(static_cast<int>(sampling_frequency)) + " Hz (resample the record first)");
    }
    if (hop_ == 0) throw config_error(at_field("hop"), "0 samples", "a hop of at least one sample");
    if (stream_.n_samples() < static_cast<std::int64_t>(window_)) {
      throw data_error(in_file(header_path_.string(), "samples"), std::to_string(stream_.n_samples()),
                       "at least " + std::to_string(window_) + " (one window)");
    }
    slot_of_lead_.assign(stream_.n_leads(), -1);
    for (std::size_t l = 0; l < e.leads.size() && l < stream_.n_leads(); ++l) {
      const auto slot = io::standard_lead_index(e.leads[l]);
      if (slot && kept.contains(*slot)) slot_of_lead_[l] = static_cast<int>(*slot);
    }
    // At most a window less one sample plus a chunk is ever held: reserving that once keeps the
    // memory the same for a record of a minute and one of a week.
    const auto most = window_ + static_cast<std::size_t>(chunk_);
    held_.assign(io::standard_lead_count, std::vector<float>());
    for (std::size_t l = 0; l < slot_of_lead_.size(); ++l) {
      if (slot_of_lead_[l] >= 0) held_[static_cast<std::size_t>(slot_of_lead_[l])].reserve(most);
    }
    invalid_.reserve(most);
  }

  [[nodiscard]] const std::string& record_id() const { return record_id_; }
  [[nodiscard]] const std::filesystem::path& header_path() const { return header_path_; }
  [[nodiscard]] std::size_t window() const { return window_; }
  [[nodiscard]] std::size_t hop() const { return hop_; }
  [[nodiscard]] double fs() const { return stream_.fs(); }
  /// Windows in the whole record: every start k x hop with a full window after it.
  [[nodiscard]] std::int64_t count() const {
    return (stream_.n_samples() - static_cast<std::int64_t>(window_)) / static_cast<std::int64_t>(hop_) + 1;
  }
  /// Bytes this object holds (window samples and the stream's buffers), independent of the
  /// record's length.
  [[nodiscard]] std::size_t buffered_bytes() const {
    std::size_t bytes = stream_.buffered_bytes() + chunk_tensor_.size() * sizeof(float) + invalid_.capacity();
    for (const auto& lead : held_) bytes += lead.capacity() * sizeof(float);
    return bytes;
  }

  /// Writes the next window into `out` [12, window] and its position into `where`; false when
  /// the record has no further full window.
  bool next(tensor<float, 2>& out, window_position& where) {
    if (next_index_ >= count()) return false;
    const std::int64_t start = next_index_ * static_cast<std::int64_t>(hop_);
    // Drop what lies before the window (a hop longer than the window skips samples unread
    // into the buffer only as far as the stream must be read past them).
    const std::int64_t drop = std::min<std::int64_t>(start - held_start_, held_size());
    if (drop > 0) discard_front(static_cast<std::size_t>(drop));
    while (held_start_ < start) {  // the gap between windows lies beyond what was held
      fill(std::min<std::int64_t>(chunk_, start - held_start_));
      discard_front(held_size());
    }
    while (held_size() < static_cast<std::int64_t>(window_)) fill(chunk_);
    if (out.shape()[0] != io::standard_lead_count || out.shape()[1] != window_) out.resize({io::standard_lead_count, window_});
    for (std::size_t slot = 0; slot < io::standard_lead_count; ++slot) {
      if (held_[slot].empty()) {
        std::fill_n(out.data() + slot * window_, window_, 0.0f);
      } else {
        std::copy_n(held_[slot].begin(), window_, out.data() + slot * window_);
      }
    }
    where.index = next_index_;
    where.start_sample = start;
    where.has_invalid = std::any_of(invalid_.begin(), invalid_.begin() + static_cast<std::ptrdiff_t>(window_), [](char c) { return c != 0; });
    ++next_index_;
    return true;
  }

 private:
  static std::filesystem::path header_of(const std::string& name) {
    std::filesystem::path header(name);
    if (header.extension() != ".hea") header += ".hea";
    return header;
  }

  [[nodiscard]] std::int64_t held_size() const { return static_cast<std::int64_t>(invalid_.size()); }

  void discard_front(std::size_t n) {
    for (auto& lead : held_) {
      if (!lead.empty()) lead.erase(lead.begin(), lead.begin() + static_cast<std::ptrdiff_t>(n));
    }
    invalid_.erase(invalid_.begin(), invalid_.begin() + static_cast<std::ptrdiff_t>(n));
    held_start_ += static_cast<std::int64_t>(n);
  }

  /// Appends up to `frames` frames of the record to the held samples.
  void fill(std::int64_t frames) {
    const std::int64_t got = stream_.read(frames, chunk_tensor_);
    if (got == 0) {
      throw data_error(in_file(header_path_.string(), "samples"), "the record ended before its last window",
                       std::to_string(stream_.n_samples()) + " samples, as its header says");
    }
    const std::size_t n = static_cast<std::size_t>(got);
    const std::size_t before = invalid_.size();
    invalid_.resize(before + n, 0);
    for (std::size_t l = 0; l < slot_of_lead_.size(); ++l) {
      const int slot = slot_of_lead_[l];
      if (slot < 0) continue;
      auto& lead = held_[static_cast<std::size_t>(slot)];
      lead.resize(before);  // a slot first met now starts with the held length (always 0 or before)
      const float* src = chunk_tensor_.data() + l * n;
      lead.insert(lead.end(), src, src + n);
      for (std::size_t t = 0; t < n; ++t) invalid_[before + t] |= static_cast<char>(std::isnan(src[t]));
    }
  }

  std::filesystem::path header_path_;
  io::wfdb_stream stream_;
  std::size_t window_, hop_;
  std::int64_t chunk_;
  std::string record_id_;
  std::vector<int> slot_of_lead_;          // header lead -> canonical slot, -1 when not kept
  std::vector<std::vector<float>> held_;   // per slot: samples [held_start_, held_start_ + held_size())
  std::vector<char> invalid_;              // per held sample: any kept lead invalid
  std::int64_t held_start_ = 0;
  std::int64_t next_index_ = 0;
  tensor<float, 2> chunk_tensor_;
};

}  // namespace ecgssl::data

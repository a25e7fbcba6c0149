#pragma once
/// \file wfdb_stream.hpp
/// Reads a WFDB record front to back in chunks of frames, for recordings too long to hold
/// (Holter and patch records run for hours or days): memory is one chunk per signal file,
/// whatever the record's length. Values are those of io::read_millivolts bit for bit
/// ((digital - baseline) / gain in double, uV and V scaled to mV, then float), except that an
/// invalid sample is NaN instead of an error: a long recording has lead-off stretches, and the
/// caller decides what to do with the windows they touch. Units that are not a voltage are
/// refused when the record is opened, as read_millivolts refuses them.
///
/// What streams: single-segment records whose signal files hold one sample per signal per
/// frame without skew, in any format whose samples decode without state (16, 24, 32, 61, 80,
/// 160, 212, 310, 311), and null signals. Multi-segment records, format 8 (differences),
/// frames (`212x4`), skew and MATLAB `.mat` files are refused with a message naming the header
/// line; io::read_record reads them whole.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "detail/regular_file.hpp"
#include "detail/wfdb_decode.hpp"
#include "wfdb_header.hpp"
#include "wfdb_record.hpp"

namespace ecgssl::io {

/// Options of wfdb_stream.
struct wfdb_stream_options {
  /// As wfdb_read_options: signal files must stay inside the header's folder unless this is set.
  bool allow_files_outside_folder = false;
  wfdb_parse_options header{};
};

/// A single-segment WFDB record opened for reading in order, a chunk of frames at a time.
class wfdb_stream {
 public:
  /// Opens the record at `path` (with or without ".hea"): parses the header, opens every signal
  /// file (regular files only) and checks that each holds the record's samples, before any
  /// sample is read. io_error naming the header line or file otherwise.
  explicit wfdb_stream(const std::string& path, const wfdb_stream_options& options = {})
      : header_(read_wfdb_header(detail::header_path_of(path), options.header)) {
    const wfdb_header& h = header_;
    if (h.is_multi_segment()) {
      fail(h.path, 1, "number of segments", "a multi-segment record", "a single-segment record (read multi-segment records whole)");
    }
    const std::filesystem::path dir = std::filesystem::path(h.path).parent_path();
    std::int64_t n_samples = h.n_samples_given ? h.n_samples : -1;
    for (std::size_t s = 0; s < h.signals.size(); ++s) {
      const auto& spec = h.signals[s];
      units_scale_.push_back(require_millivolt_scale(spec.units, spec.description, h.path));
      if (spec.is_null()) {
        file_group null_signal;
        null_signal.first = s;
        null_signal.count = 1;
        groups_.push_back(std::move(null_signal));
        continue;
      }
      if (spec.samples_per_frame != 1 || spec.skew != 0) {
        fail(h.path, spec.line, "format", "a signal with " + std::to_string(spec.samples_per_frame) + " samples per frame and skew " + std::to_string(spec.skew),
             "one sample per frame and no skew to stream (read the record whole)");
      }
      if (spec.format == 8) fail(h.path, spec.line, "format", "format 8 (first differences)", "a format without state to stream (read the record whole)");
      if (detail::ends_with_icase(spec.file_name, ".mat")) {
        fail(h.path, spec.line, "file name", "a MATLAB .mat signal file", "a WFDB signal file to stream (read .mat records whole)");
      }
      if (!groups_.empty() && groups_.back().format != 0 && h.signals[groups_.back().first].file_name == spec.file_name) {
        if (spec.format != groups_.back().format || spec.byte_offset != h.signals[groups_.back().first].byte_offset) {
          fail(h.path, spec.line, "format", "signals of one file with different formats or byte offsets", "one format and offset per signal file");
        }
        ++groups_.back().count;
        continue;
      }
      if (!options.allow_files_outside_folder) detail::require_inside_folder(spec.file_name, h.path, spec.line, "file name");
      file_group g;
      g.first = s;
      g.count = 1;
      g.format = spec.format;
      g.byte_offset = spec.byte_offset;
      g.path = (dir / spec.file_name).string();
      g.file = open_signal_file(g.path, h.path, spec.line, g.bytes);
      groups_.push_back(std::move(g));
    }
    // Each file's whole frames, after its offset; the record's length is the header's or the first file's.
    for (auto& g : groups_) {
      if (g.format == 0) continue;
      const std::int64_t after = g.bytes - g.byte_offset;
      if (after < 0) {
        fail(h.path, h.signals[g.first].line, "byte offset", "offset " + std::to_string(g.byte_offset) + " is past the end of " + g.path,
             "an offset inside the signal file");
      }
      const std::int64_t frames = detail::wfdb_samples_in_bytes(g.format, after) / static_cast<std::int64_t>(g.count);
      if (n_samples < 0) n_samples = frames;
      if (frames < n_samples) {
        error_location where;
        where.file = g.path;
        where.field = "signal file size";
        throw io_error(where, "truncated: " + std::to_string(frames) + " frames of " + std::to_string(g.count) + " signal(s), but " + h.path +
                                  " declares " + std::to_string(n_samples) + " samples",
                       std::to_string(detail::wfdb_bytes_for_samples(g.format, n_samples * static_cast<std::int64_t>(g.count))) +
                           " bytes after the offset");
      }
    }
    if (n_samples < 0) fail(h.path, 1, "number of samples", "no sample count and no signal file to infer it from", "name n_signals fs n_samples");
    n_samples_ = n_samples;
  }

  wfdb_stream(const wfdb_stream&) = delete;
  wfdb_stream& operator=(const wfdb_stream&) = delete;
  ~wfdb_stream() {
    for (const auto& g : groups_) {
      if (g.file >= 0) ::close(g.file);
    }
  }

  [[nodiscard]] const wfdb_header& header() const { return header_; }
  [[nodiscard]] std::size_t n_leads() const { return header_.signals.size(); }
  [[nodiscard]] double fs() const { return header_.fs; }
  /// Samples per lead in the whole record.
  [[nodiscard]] std::int64_t n_samples() const { return n_samples_; }
  /// Frames delivered so far.
  [[nodiscard]] std::int64_t position() const { return position_; }
  /// Bytes held in buffers: what bounds the stream's memory besides the caller's tensor.
  [[nodiscard]] std::size_t buffered_bytes() const { return bytes_.capacity() + decoded_.capacity() * sizeof(std::int32_t); }

  /// Reads the next `max_frames` frames (fewer at the end) into `mv` [leads, frames] in
  /// millivolts, invalid samples NaN. Returns the number read: 0 once the record is done.
  std::int64_t read(std::int64_t max_frames, tensor<float, 2>& mv) {
    const std::int64_t frames = std::max<std::int64_t>(0, std::min(max_frames, n_samples_ - position_));
    const std::size_t leads = n_leads();
    if (mv.shape()[0] != leads || mv.shape()[1] != static_cast<std::size_t>(frames)) mv.resize({leads, static_cast<std::size_t>(frames)});
    if (frames == 0) return 0;
    for (const auto& g : groups_) {
      if (g.format == 0) {
        for (std::size_t l = g.first; l < g.first + g.count; ++l) std::fill_n(mv.data() + l * frames, frames, std::numeric_limits<float>::quiet_NaN());
        continue;
      }
      decode_group(g, frames);
      const auto invalid = detail::wfdb_invalid_value(g.format);
      for (std::size_t k = 0; k < g.count; ++k) {
        const auto& spec = header_.signals[g.first + k];
        const double inv_gain = 1.0 / spec.adc_gain;
        const double base = spec.baseline;
        const double scale = units_scale_[g.first + k];
        float* out = mv.data() + (g.first + k) * static_cast<std::size_t>(frames);
        const std::int32_t* in = decoded_.data() + lead_in_ + k;
        for (std::int64_t t = 0; t < frames; ++t) {
          const std::int32_t d = in[t * static_cast<std::int64_t>(g.count)];
          // Same operations in the same order as read_record then read_millivolts.
          const double physical = (static_cast<double>(d) - base) * inv_gain;
          out[t] = (invalid && d == *invalid) ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(physical * scale);
        }
      }
    }
    position_ += frames;
    return frames;
  }

 private:
  struct file_group {
    std::size_t first = 0, count = 0;  // signals [first, first + count) share the file
    int format = 0;                    // 0: a null signal (no file)
    std::int64_t byte_offset = 0;
    std::string path;
    int file = -1;
    std::int64_t bytes = 0;            // the file's size when opened
  };

  [[noreturn]] static void fail(const std::string& file, std::int64_t line, const char* field, const std::string& problem,
                                const std::string& expected) {
    error_location where;
    where.file = file;
    where.line = line;
    where.field = field;
    throw io_error(where, problem, expected);
  }

  static int open_signal_file(const std::string& path, const std::string& header_path, std::int64_t line, std::int64_t& size) {
    error_location where;
    where.file = header_path;
    where.line = line;
    where.field = "file name";
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      const int e = errno;
      throw io_error(where, "cannot open " + path + ": " + std::strerror(e), "the WFDB signal file next to the header");
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      const std::string kind = detail::file_kind(st.st_mode);
      ::close(fd);
      throw io_error(where, path + " is " + kind, "the WFDB signal file next to the header (a regular file)");
    }
    size = static_cast<std::int64_t>(st.st_size);
    return fd;
  }

  /// Decodes `frames` frames of group `g` from the current position into decoded_, starting
  /// at decoded_[lead_in_]: packed formats (212: 2 samples in 3 bytes; 310, 311: 3 in
  /// 4) are read from the sample that starts their byte group.
  void decode_group(const file_group& g, std::int64_t frames) {
    const std::int64_t first_sample = position_ * static_cast<std::int64_t>(g.count);
    const std::int64_t group = g.format == 212 ? 2 : (g.format == 310 || g.format == 311) ? 3 : 1;
    const std::int64_t aligned = first_sample - first_sample % group;
    const std::int64_t count = first_sample - aligned + frames * static_cast<std::int64_t>(g.count);
    const std::int64_t start = g.byte_offset + detail::wfdb_bytes_for_samples(g.format, aligned);
    const std::int64_t length = detail::wfdb_bytes_for_samples(g.format, count);
    bytes_.resize(static_cast<std::size_t>(length));
    std::int64_t done = 0;
    while (done < length) {
      const ssize_t got = ::pread(g.file, bytes_.data() + done, static_cast<std::size_t>(length - done), static_cast<off_t>(start + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        error_location where;
        where.file = g.path;
        where.byte_offset = start + done;
        throw io_error(where, got < 0 ? std::string("read error: ") + std::strerror(errno) : std::string("the file shrank while it was read"),
                       std::to_string(length) + " bytes from byte " + std::to_string(start));
      }
      done += got;
    }
    decoded_.resize(static_cast<std::size_t>(count));
    detail::wfdb_decode_samples(g.format, bytes_.data(), count, decoded_.data());
    lead_in_ = static_cast<std::size_t>(first_sample - aligned);
  }

  wfdb_header header_;
  std::vector<file_group> groups_;
  std::vector<double> units_scale_;
  std::int64_t n_samples_ = 0;
  std::int64_t position_ = 0;
  std::vector<unsigned char> bytes_;
  std::vector<std::int32_t> decoded_;
  std::size_t lead_in_ = 0;  // decoded samples before the current frame's first
};

}  // namespace ecgssl::io

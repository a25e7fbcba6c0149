#pragma once
/// \file wfdb_record.hpp
/// Reads a WFDB record (header + signal files) into digital and physical tensors: WFDB formats
/// 8, 16, 24, 32, 61, 80, 160, 212, 310, 311 (frames, skew, byte offsets, several files),
/// PhysioNet/CinC Challenge MATLAB v4 `.mat` signal files (`16+24`), and multi-segment records.
///
/// Conventions (WFDB signal(5), header(5); spec §2.2 for the Challenge files):
/// - digital [leads, samples] holds the stored integers exactly; physical = (digital -
///   baseline) / gain in the header's units; samples equal to the format's invalid value become
///   NaN (and are counted).
/// - signals with several samples per frame are averaged per frame as wfdb-python's
///   `rdrecord(smooth_frames=True)` does (the mean truncated toward zero, then converted to
///   physical units), so every lead has `n_samples` samples at the frame rate `fs`.
/// - lead names are returned AS WRITTEN in the header. Normalising them ("aVR", "AVR", "avr")
///   is the job of io/lead_names.hpp; pass `record.leads` through it.
/// - checksums (16-bit sum of a signal's stored samples) are verified; a mismatch is reported in
///   `checksums` or, with `wfdb_read_options::strict_checksum`, thrown as data_error.

#include <ecgssl/core/error.hpp>
#include <ecgssl/core/tensor.hpp>
#include <ecgssl/io/detail/regular_file.hpp>
#include <ecgssl/io/detail/wfdb_decode.hpp>
#include <ecgssl/io/wfdb_header.hpp>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ecgssl::io {

/// Result of checking one signal's header checksum against its samples.
enum class checksum_status { absent, ok, mismatch };

/// Options of the record reader.
struct wfdb_read_options {
  bool strict_checksum = false;  ///< throw data_error on a checksum mismatch instead of reporting it
  bool compute_physical = true;  ///< false skips the physical tensor (left empty)
  /// Refuse records with more than this many samples in all (leads x samples), so a corrupt
  /// header cannot make the reader allocate without bound.
  std::int64_t max_total_samples = std::int64_t{1} << 31;
  /// A header names its signal files (and a multi-segment header its segments' headers);
  /// by default each must stay inside the header's folder: no absolute path, no `..`.
  bool allow_files_outside_folder = false;
  wfdb_parse_options header{};
};

/// A decoded WFDB record. Per-lead vectors have one entry per lead, in header order.
struct wfdb_record {
  std::string header_path;               ///< the .hea file read
  std::string name;                      ///< record name from the record line
  double fs = 0.0;                       ///< samples per second per lead
  std::int64_t n_samples = 0;            ///< samples per lead
  std::vector<std::string> leads;        ///< signal descriptions as written (e.g. "I", "avr", "MLII")
  std::vector<std::string> units;        ///< as written (e.g. "mV", "mv")
  std::vector<double> gains;             ///< ADC units per physical unit
  std::vector<std::int32_t> baselines;   ///< digital value of physical zero
  std::vector<int> formats;              ///< storage format per lead
  std::vector<int> samples_per_frame;    ///< 1 unless the header says `fmtxN`
  tensor<std::int32_t, 2> digital;       // [leads, samples]
  tensor<double, 2> physical;            // [leads, samples], NaN where a sample is invalid
  std::int64_t invalid_samples = 0;      ///< samples that are the format's invalid value (or missing)
  std::vector<std::int64_t> invalid_per_lead;
  std::vector<checksum_status> checksums;  ///< per lead (multi-segment: worst over segments)
  std::optional<double> age;             ///< `#Age:` comment, if a number
  std::string sex;                       ///< `#Sex:` comment as written ("" if absent)
  std::vector<std::string> dx;           ///< `#Dx:` SNOMED CT codes as strings, in order
  std::vector<wfdb_comment> comments;    ///< every comment line of the header
  wfdb_header header;                    ///< the parsed header (for multi-segment: the master header)

  [[nodiscard]] std::size_t n_leads() const { return leads.size(); }
  [[nodiscard]] bool checksums_ok() const {
    for (auto c : checksums) {
      if (c == checksum_status::mismatch) return false;
    }
    return true;
  }
};

namespace detail {

inline bool ends_with_icase(const std::string& s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) !=
        std::tolower(static_cast<unsigned char>(suffix[i]))) {
      return false;
    }
  }
  return true;
}

/// Reusable buffers: the reader keeps one per thread so loading thousands of records does not
/// allocate per record once the buffers have grown.
struct wfdb_workspace {
  std::vector<unsigned char> bytes;
  std::vector<std::int32_t> stream;
};

inline wfdb_workspace& thread_workspace() {
  thread_local wfdb_workspace ws;
  return ws;
}

/// Reads a whole signal file into `bytes`: only a regular file (a FIFO, a directory or a device
/// is refused, naming the header line that named it), at most 64 GiB.
inline void read_file_bytes(const std::string& path, std::vector<unsigned char>& bytes, const std::string& header_path,
                            std::int64_t header_line) {
  error_location where;
  where.file = header_path;
  where.line = header_line;
  where.field = "file name";
  read_regular_file(path, bytes, where, "the WFDB signal file next to the header", std::size_t{64} << 30);
}

inline std::int32_t read_le_i32(const unsigned char* p) {
  const std::uint32_t u = std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
                          (std::uint32_t{p[3]} << 24);
  std::int32_t v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

/// Checks a MATLAB v4 header (PhysioNet/CinC Challenge `.mat`): int32 type = 30 (little-endian
/// int16 numeric), rows = signals, cols = samples, imagf = 0, name length, then the name; data
/// column-major, i.e. frames of sample-interleaved signals. Returns the number of columns.
inline std::int64_t check_mat_header(std::span<const unsigned char> bytes, const std::string& file,
                                     std::int64_t header_offset, std::int64_t n_signals, int format,
                                     std::int64_t n_samples, const std::string& header_path) {
  auto bad = [&](std::int64_t at, const char* field, const std::string& problem, const std::string& expected) {
    error_location where;
    where.file = file;
    where.byte_offset = at;
    where.field = field;
    throw io_error(where, problem, expected);
  };
  if (bytes.size() < 20) bad(0, "MAT header", "file has only " + std::to_string(bytes.size()) + " bytes", "a 20-byte MATLAB v4 header");
  const std::int32_t type = read_le_i32(bytes.data());
  const std::int32_t rows = read_le_i32(bytes.data() + 4);
  const std::int32_t cols = read_le_i32(bytes.data() + 8);
  const std::int32_t imagf = read_le_i32(bytes.data() + 12);
  const std::int32_t namelen = read_le_i32(bytes.data() + 16);
  if (type != 30) bad(0, "MAT type", "type code " + std::to_string(type), "30 (little-endian int16 matrix, MATLAB v4)");
  if (format != 16) bad(0, "format", "a MAT signal file declared as format " + std::to_string(format), "format 16 (int16)");
  if (imagf != 0) bad(12, "MAT imagf", "complex matrix flag " + std::to_string(imagf), "0 (real)");
  if (namelen < 1 || namelen > 64 || 20 + static_cast<std::int64_t>(namelen) > static_cast<std::int64_t>(bytes.size())) {
    bad(16, "MAT name length", "name length " + std::to_string(namelen), "1 to 64 bytes inside the file (4 for \"val\")");
  }
  const std::int64_t data_start = 20 + static_cast<std::int64_t>(namelen);
  if (header_offset != data_start) {
    bad(16, "byte offset", "header says data start at byte " + std::to_string(header_offset) +
                               " but the MAT header ends at byte " + std::to_string(data_start),
        "format 16+" + std::to_string(data_start) + " in the .hea signal line");
  }
  if (rows != n_signals) {
    bad(4, "MAT rows", "matrix has " + std::to_string(rows) + " rows but the header lists " + std::to_string(n_signals) +
                           " signals in this file", "one row per signal");
  }
  if (cols < 0) bad(8, "MAT cols", "negative column count " + std::to_string(cols), "the number of samples");
  if (n_samples >= 0 && cols != n_samples) {
    bad(8, "MAT cols", "matrix has " + std::to_string(cols) + " columns but " + header_path + " says " +
                           std::to_string(n_samples) + " samples",
        "cols = number of samples");
  }
  const std::int64_t data_bytes = 2 * static_cast<std::int64_t>(rows) * cols;
  const std::int64_t have = static_cast<std::int64_t>(bytes.size()) - data_start;
  if (have != data_bytes) {
    bad(data_start, "MAT data size", "matrix " + std::to_string(rows) + "x" + std::to_string(cols) + " needs " +
                                         std::to_string(data_bytes) + " data bytes but the file has " + std::to_string(have),
        "file size = " + std::to_string(data_start) + " + 2 x rows x cols");
  }
  return cols;
}

/// Decodes a single-segment record whose signal files are supplied by `get_file(spec)`, which
/// returns the bytes of `spec.file_name` (a std::span<const unsigned char>). Template, not a
/// virtual interface: the disk reader and the fuzzers pass lambdas.
template <class FileProvider>
void decode_single_segment(const wfdb_header& h, FileProvider&& get_file, wfdb_record& out,
                           const wfdb_read_options& options, std::vector<std::int32_t>& stream) {
  const std::string& hpath = h.path;
  const auto n_leads = static_cast<std::size_t>(h.n_signals);
  auto fail_line = [&](std::int64_t line, const char* field, const std::string& problem, const std::string& expected) {
    error_location where;
    where.file = hpath;
    where.line = line;
    where.field = field;
    throw io_error(where, problem, expected);
  };

  // Signal files are named relative to the header's folder; messages give that full path.
  const std::filesystem::path header_dir = std::filesystem::path(hpath).parent_path();
  auto signal_path = [&](const wfdb_signal_spec& spec) { return (header_dir / spec.file_name).string(); };

  // Group consecutive signal lines naming the same file: they share its frames.
  struct group {
    std::size_t first = 0, count = 0;
    std::int64_t frame_size = 0;  // samples per frame, all signals of the group
    int max_skew = 0;
  };
  std::vector<group> groups;
  for (std::size_t s = 0; s < n_leads; ++s) {
    const auto& spec = h.signals[s];
    if (groups.empty() || h.signals[groups.back().first].file_name != spec.file_name) groups.push_back({s, 0, 0, 0});
    auto& g = groups.back();
    const auto& first = h.signals[g.first];
    if (spec.format != first.format) {
      fail_line(spec.line, "format", "signal file " + spec.file_name + " is format " + std::to_string(first.format) +
                                         " on line " + std::to_string(first.line) + " but format " + std::to_string(spec.format) + " here",
                "one format per signal file");
    }
    if (spec.byte_offset != first.byte_offset) {
      fail_line(spec.line, "byte offset", "byte offset " + std::to_string(spec.byte_offset) + " differs from " +
                                              std::to_string(first.byte_offset) + " on line " + std::to_string(first.line),
                "one byte offset per signal file");
    }
    ++g.count;
    g.frame_size += spec.samples_per_frame;
    g.max_skew = std::max(g.max_skew, spec.skew);
  }

  // Plain groups (one sample per frame, no skew: every Challenge and PTB-XL file) are
  // transposed in one frame-major pass that also sums the checksums; plain format-16 groups
  // are decoded straight from the file bytes in that pass.
  std::vector<char> plain(groups.size(), 0);
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    bool p = !h.signals[groups[gi].first].is_null();
    for (std::size_t k = 0; k < groups[gi].count && p; ++k) {
      p = h.signals[groups[gi].first + k].samples_per_frame == 1 && h.signals[groups[gi].first + k].skew == 0;
    }
    plain[gi] = p;
  }
  auto direct16 = [&](std::size_t gi) { return plain[gi] && h.signals[groups[gi].first].format == 16; };

  // Number of samples: from the record line, else from the first file's size.
  std::int64_t n_samples = h.n_samples_given ? h.n_samples : -1;

  struct group_view {
    std::span<const unsigned char> data;  // bytes after the offset
    std::int64_t frames = 0;              // whole frames available
    std::int64_t stream_begin = 0;        // where this group's samples start in `stream`
  };
  std::vector<group_view> views(groups.size());
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const auto& g = groups[gi];
    const auto& spec = h.signals[g.first];
    if (spec.is_null()) continue;  // null signal: every sample invalid
    const std::span<const unsigned char> bytes = get_file(spec);
    if (ends_with_icase(spec.file_name, ".mat")) {
      const std::int64_t cols = check_mat_header(bytes, signal_path(spec), spec.byte_offset,
                                                 static_cast<std::int64_t>(g.count), spec.format, n_samples, hpath);
      for (std::size_t s = g.first; s < g.first + g.count; ++s) {
        if (h.signals[s].samples_per_frame != 1 || h.signals[s].skew != 0) {
          fail_line(h.signals[s].line, "format", "frames or skew on a MAT signal", "plain 16+24");
        }
      }
      if (n_samples < 0) n_samples = cols;
    }
    if (spec.byte_offset > static_cast<std::int64_t>(bytes.size())) {
      fail_line(spec.line, "byte offset", "offset " + std::to_string(spec.byte_offset) + " is past the end of " + spec.file_name +
                                              " (" + std::to_string(bytes.size()) + " bytes)",
                "an offset inside the signal file");
    }
    views[gi].data = bytes.subspan(static_cast<std::size_t>(spec.byte_offset));
    const std::int64_t samples = wfdb_samples_in_bytes(spec.format, static_cast<std::int64_t>(views[gi].data.size()));
    views[gi].frames = samples / g.frame_size;
    if (n_samples < 0) n_samples = views[gi].frames;
  }
  if (n_samples < 0) {
    fail_line(h.signals.empty() ? 1 : h.signals.front().line, "number of samples",
              "no sample count on the record line and no signal file to infer it from", "name n_signals fs n_samples");
  }
  if (n_leads > 0 && n_samples > options.max_total_samples / static_cast<std::int64_t>(n_leads)) {
    error_location where;
    where.file = hpath;
    where.field = "number of samples";
    throw io_error(where, std::to_string(n_leads) + " signals x " + std::to_string(n_samples) + " samples is too large",
                   "at most wfdb_read_options::max_total_samples = " + std::to_string(options.max_total_samples));
  }

  // Every file must hold n_samples frames; decode n_samples + max_skew frames where present.
  std::int64_t stream_size = 0;
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const auto& g = groups[gi];
    const auto& spec = h.signals[g.first];
    if (spec.is_null()) continue;
    if (views[gi].frames < n_samples) {
      const std::int64_t need = wfdb_bytes_for_samples(spec.format, n_samples * g.frame_size);
      error_location where;
      where.file = signal_path(spec);
      where.field = "signal file size";
      throw io_error(where, "truncated: " + std::to_string(views[gi].data.size()) + " bytes after offset " +
                                std::to_string(spec.byte_offset) + " hold " + std::to_string(views[gi].frames) +
                                " frames, but " + hpath + " line " + std::to_string(spec.line) + " declares " +
                                std::to_string(g.count) + " signal(s) in this file (" + std::to_string(g.frame_size) +
                                " samples per frame, format " + std::to_string(spec.format) + ") x " +
                                std::to_string(n_samples) + " samples",
                     (need >= 0 ? std::to_string(need) : std::string("more")) + " bytes after the offset");
    }
    views[gi].frames = std::min(views[gi].frames, n_samples + g.max_skew);
    views[gi].stream_begin = stream_size;
    if (!direct16(gi)) stream_size += views[gi].frames * g.frame_size;
  }
  stream.resize(static_cast<std::size_t>(stream_size));
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const auto& g = groups[gi];
    const auto& spec = h.signals[g.first];
    if (spec.is_null() || direct16(gi)) continue;
    std::int32_t* s = stream.data() + views[gi].stream_begin;
    const std::int64_t count = views[gi].frames * g.frame_size;
    wfdb_decode_samples(spec.format, views[gi].data.data(), count, s);
    if (spec.format == 8) {
      // First differences: integrate per signal, starting from its initial value, across its
      // samples within a frame and across frames. Unsigned arithmetic wraps like the C library.
      std::vector<std::uint32_t> acc(g.count);
      for (std::size_t k = 0; k < g.count; ++k) acc[k] = static_cast<std::uint32_t>(h.signals[g.first + k].initial_value);
      for (std::int64_t f = 0; f < views[gi].frames; ++f) {
        std::int32_t* frame = s + f * g.frame_size;
        std::int64_t pos = 0;
        for (std::size_t k = 0; k < g.count; ++k) {
          for (int j = 0; j < h.signals[g.first + k].samples_per_frame; ++j, ++pos) {
            acc[k] += static_cast<std::uint32_t>(frame[pos]);
            std::memcpy(&frame[pos], &acc[k], sizeof(std::int32_t));
          }
        }
      }
    }
  }

  // Assemble [leads, samples].
  out.header_path = hpath;
  out.name = h.record_name;
  out.fs = h.fs;
  out.n_samples = n_samples;
  out.leads.clear();
  out.units.clear();
  out.gains.clear();
  out.baselines.clear();
  out.formats.clear();
  out.samples_per_frame.clear();
  out.checksums.assign(n_leads, checksum_status::absent);
  out.invalid_per_lead.assign(n_leads, 0);
  out.invalid_samples = 0;
  const std::array<std::size_t, 2> shape{n_leads, static_cast<std::size_t>(n_samples)};
  if (out.digital.shape() != shape) out.digital.resize(shape);
  if (options.compute_physical) {
    if (out.physical.shape() != shape) out.physical.resize(shape);
  } else {
    out.physical.resize({0, 0});
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::uint32_t> sums;  // per signal of a plain group: 16-bit checksum accumulators
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const auto& g = groups[gi];
    if (plain[gi]) {
      const std::size_t count = g.count;
      const auto n = static_cast<std::size_t>(n_samples);
      std::int32_t* dst = out.digital.data() + g.first * n;
      sums.assign(count, 0);
      if (direct16(gi)) {
        const unsigned char* src = views[gi].data.data();
        for (std::size_t t = 0; t < n; ++t, src += 2 * count) {
          for (std::size_t k = 0; k < count; ++k) {
            const std::int32_t v = static_cast<std::int16_t>(static_cast<std::uint16_t>(src[2 * k] | (src[2 * k + 1] << 8)));
            dst[k * n + t] = v;
            sums[k] += static_cast<std::uint32_t>(v);
          }
        }
      } else {
        const std::int32_t* src = stream.data() + views[gi].stream_begin;
        for (std::size_t t = 0; t < n; ++t, src += count) {
          for (std::size_t k = 0; k < count; ++k) {
            dst[k * n + t] = src[k];
            sums[k] += static_cast<std::uint32_t>(src[k]);
          }
        }
      }
    }
    std::int64_t pos = 0;
    for (std::size_t k = 0; k < g.count; ++k) {
      const std::size_t lead = g.first + k;
      const auto& spec = h.signals[lead];
      out.leads.push_back(spec.description);
      out.units.push_back(spec.units);
      out.gains.push_back(spec.adc_gain);
      out.baselines.push_back(spec.baseline);
      out.formats.push_back(spec.format);
      out.samples_per_frame.push_back(spec.samples_per_frame);
      const auto invalid = wfdb_invalid_value(spec.format);
      const std::int32_t fill = invalid ? *invalid : std::numeric_limits<std::int32_t>::min();
      std::int32_t* dig = out.digital.data() + lead * static_cast<std::size_t>(n_samples);
      double* phys = options.compute_physical ? out.physical.data() + lead * static_cast<std::size_t>(n_samples) : nullptr;
      const int spf = spec.samples_per_frame;
      std::int64_t n_invalid = 0;
      if (spec.is_null()) {
        for (std::int64_t t = 0; t < n_samples; ++t) dig[t] = fill;
        if (phys) for (std::int64_t t = 0; t < n_samples; ++t) phys[t] = nan;
        n_invalid = n_samples;
      } else {
        // (an empty stream has no data pointer to offset: zero frames, nothing is read)
        const std::int32_t* s = stream.empty() ? stream.data() : stream.data() + views[gi].stream_begin + pos;
        const std::int64_t frames = views[gi].frames;
        const std::int64_t fsz = g.frame_size;
        // Checksum over the stored frames 0 .. n_samples-1 (before skew), as WFDB writes it.
        if (spec.checksum) {
          std::uint32_t sum = 0;
          if (plain[gi]) {
            sum = sums[k];
          } else {
            for (std::int64_t f = 0; f < n_samples; ++f) {
              for (int j = 0; j < spf; ++j) sum += static_cast<std::uint32_t>(s[f * fsz + j]);
            }
          }
          const bool same = (sum & 0xFFFFu) == (static_cast<std::uint32_t>(*spec.checksum) & 0xFFFFu);
          out.checksums[lead] = same ? checksum_status::ok : checksum_status::mismatch;
          if (!same && options.strict_checksum) {
            error_location where;
            where.file = hpath;
            where.line = spec.line;
            where.field = "checksum";
            throw data_error(where, "samples of signal " + std::to_string(lead) + " (" + spec.description + ") sum to " +
                                        std::to_string(static_cast<std::int16_t>(sum & 0xFFFFu)) + " (mod 2^16)",
                             std::to_string(*spec.checksum) + " as written in the header");
          }
        }
        const double gain = spec.adc_gain;
        const double base = spec.baseline;
        const std::int64_t skew = spec.skew;
        const std::int64_t last = std::min(n_samples, frames - skew);  // samples with a stored frame
        if (spf == 1) {
          // Gather this lead's column, then convert in contiguous passes (vectorisable).
          const std::int64_t stored = std::max<std::int64_t>(last, 0);
          if (stored > 0 && !plain[gi]) {
            const std::int32_t* src = s + skew * fsz;
            if (fsz == 1) {
              std::memcpy(dig, src, static_cast<std::size_t>(stored) * sizeof(std::int32_t));
            } else {
              for (std::int64_t t = 0; t < stored; ++t) dig[t] = src[t * fsz];
            }
          }
          for (std::int64_t t = stored; t < n_samples; ++t) dig[t] = fill;
          n_invalid += n_samples - stored;
          if (phys) {
            const double inv_gain = 1.0 / gain;
            for (std::int64_t t = 0; t < stored; ++t) phys[t] = (static_cast<double>(dig[t]) - base) * inv_gain;
            for (std::int64_t t = stored; t < n_samples; ++t) phys[t] = nan;
          }
          if (invalid) {
            const std::int32_t bad = *invalid;
            std::int64_t count = 0;
            for (std::int64_t t = 0; t < stored; ++t) count += dig[t] == bad;
            if (count > 0) {
              n_invalid += count;
              if (phys) {
                for (std::int64_t t = 0; t < stored; ++t) {
                  if (dig[t] == bad) phys[t] = nan;
                }
              }
            }
          }
        } else {
          std::int64_t t = 0;
          for (; t < last; ++t) {
            const std::int32_t* frame = s + (t + skew) * fsz;
            std::int64_t sum = 0;
            for (int j = 0; j < spf; ++j) sum += frame[j];
            // Mean truncated toward zero, then treated like any stored value (as wfdb-python's
            // smoothing does: a frame is invalid only if its mean is the invalid value).
            const auto v = static_cast<std::int32_t>(sum / spf);
            dig[t] = v;
            if (invalid && v == *invalid) {
              if (phys) phys[t] = nan;
              ++n_invalid;
            } else if (phys) {
              phys[t] = (static_cast<double>(v) - base) / gain;
            }
          }
          for (t = std::max<std::int64_t>(t, 0); t < n_samples; ++t) {
            dig[t] = fill;
            if (phys) phys[t] = nan;
            ++n_invalid;
          }
        }
      }
      out.invalid_per_lead[lead] = n_invalid;
      out.invalid_samples += n_invalid;
      pos += spf;
    }
  }
}

/// Fills age / sex / dx / comments from the header's comment lines.
inline void read_demographics(const wfdb_header& h, wfdb_record& out) {
  out.comments = h.comments;
  out.age.reset();
  if (auto a = h.comment_value("age")) out.age = parse_real(trim(*a));
  out.sex = h.comment_value("sex").value_or("");
  out.dx.clear();
  if (auto d = h.comment_value("dx")) {
    std::string_view rest = *d;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string_view code = trim(rest.substr(0, comma));
      if (!code.empty()) out.dx.emplace_back(code);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
}

inline std::string header_path_of(const std::string& path) {
  if (ends_with_icase(path, ".hea")) return path;
  return path + ".hea";
}

/// Refuses a file name from a header that would leave the header's folder (absolute, or with a
/// `..` component): a record must not make the reader open files elsewhere on the machine.
inline void require_inside_folder(const std::string& name, const std::string& header_path, std::int64_t line,
                                  const char* field) {
  const std::filesystem::path p(name);
  bool escapes = p.is_absolute() || p.has_root_name() || p.has_root_directory();
  for (const auto& part : p) escapes = escapes || part == "..";
  if (!escapes) return;
  error_location where;
  where.file = header_path;
  if (line > 0) where.line = line;
  where.field = field;
  throw io_error(where, "'" + name + "' points outside the header's folder",
                 "a file name inside that folder (wfdb_read_options::allow_files_outside_folder permits others)");
}

inline void read_single_from_disk(const wfdb_header& h, wfdb_record& out, const wfdb_read_options& options) {
  auto& ws = thread_workspace();
  const std::filesystem::path dir = std::filesystem::path(h.path).parent_path();
  // Records almost always keep all signals in one file; cache the last file read so a file
  // shared by many signal lines is read once.
  std::string cached_name;
  std::vector<std::vector<unsigned char>> extra;  // only for records with several files
  std::vector<std::string> extra_names;
  auto get_file = [&](const wfdb_signal_spec& spec) -> std::span<const unsigned char> {
    if (!options.allow_files_outside_folder) require_inside_folder(spec.file_name, h.path, spec.line, "file name");
    const std::string full = (dir / spec.file_name).string();
    if (cached_name.empty()) {
      read_file_bytes(full, ws.bytes, h.path, spec.line);
      cached_name = spec.file_name;
      return {ws.bytes.data(), ws.bytes.size()};
    }
    if (cached_name == spec.file_name) return {ws.bytes.data(), ws.bytes.size()};
    for (std::size_t i = 0; i < extra_names.size(); ++i) {
      if (extra_names[i] == spec.file_name) return {extra[i].data(), extra[i].size()};
    }
    extra.emplace_back();
    extra_names.push_back(spec.file_name);
    read_file_bytes(full, extra.back(), h.path, spec.line);
    return {extra.back().data(), extra.back().size()};
  };
  decode_single_segment(h, get_file, out, options, ws.stream);
}

inline void merge_checksum(checksum_status& into, checksum_status from) {
  if (from == checksum_status::mismatch || (from == checksum_status::ok && into == checksum_status::absent)) into = from;
}

/// Multi-segment records (WFDB header(5), "segment specification lines"): segments are read
/// from `<name>.hea` next to the master header and concatenated; "~" segments are all invalid.
/// A first segment of length 0 is the layout segment that names the record's signals; without
/// one the first real segment does. Signals are matched by position when a segment has the
/// record's signals in the same order, otherwise by name (missing ones are invalid). Digital
/// values of a segment whose gain/baseline differ from the record's are re-quantised to the
/// record's gain/baseline (rounded), the physical values are the segment's own.
inline void read_multi_from_disk(const wfdb_header& h, wfdb_record& out, const wfdb_read_options& options) {
  const std::filesystem::path dir = std::filesystem::path(h.path).parent_path();
  auto segment_header = [&](const wfdb_segment_spec& seg) {
    if (!options.allow_files_outside_folder) require_inside_folder(seg.name, h.path, seg.line, "segment name");
    const std::string p = (dir / (seg.name + ".hea")).string();
    wfdb_header sh;
    try {
      sh = read_wfdb_header(p, options.header);
    } catch (const io_error& e) {
      if (e.where().line) throw;
      error_location where;
      where.file = h.path;
      where.line = seg.line;
      where.field = "segment name";
      throw io_error(where, "cannot read segment header " + p, "a segment header next to the master header");
    }
    if (sh.is_multi_segment()) {
      error_location where;
      where.file = p;
      where.line = 1;
      where.field = "record name";
      throw io_error(where, "segment is itself a multi-segment record", "a single-segment record");
    }
    return sh;
  };
  // Record-level signals: layout segment or the first real segment.
  wfdb_header layout;
  bool have_layout = false;
  for (const auto& seg : h.segments) {
    if (seg.is_null()) continue;
    layout = segment_header(seg);
    have_layout = true;
    break;
  }
  if (!have_layout) {
    error_location where;
    where.file = h.path;
    where.field = "segments";
    throw io_error(where, "every segment is null ('~')", "at least one segment with a header");
  }
  const std::size_t n_leads = layout.signals.size();
  std::int64_t total = 0;
  for (const auto& seg : h.segments) total += seg.n_samples;
  if (h.n_samples_given && total != h.n_samples) {
    error_location where;
    where.file = h.path;
    where.field = "number of samples";
    throw io_error(where, "segment lengths add up to " + std::to_string(total) + " but the record line says " +
                              std::to_string(h.n_samples),
                   "the sum of the segment lengths");
  }
  if (n_leads > 0 && total > options.max_total_samples / static_cast<std::int64_t>(n_leads)) {
    throw io_error(in_file(h.path, "number of samples"), "record too large", "at most max_total_samples in all");
  }
  out.header_path = h.path;
  out.name = h.record_name;
  out.fs = h.fs;
  out.n_samples = total;
  out.leads.clear();
  out.units.clear();
  out.gains.clear();
  out.baselines.clear();
  out.formats.clear();
  out.samples_per_frame.clear();
  for (const auto& s : layout.signals) {
    out.leads.push_back(s.description);
    out.units.push_back(s.units);
    out.gains.push_back(s.adc_gain);
    out.baselines.push_back(s.baseline);
    out.formats.push_back(s.format);
    out.samples_per_frame.push_back(s.samples_per_frame);
  }
  out.checksums.assign(n_leads, checksum_status::absent);
  out.invalid_per_lead.assign(n_leads, 0);
  out.invalid_samples = 0;
  tensor<std::int32_t, 2> digital({n_leads, static_cast<std::size_t>(total)});
  tensor<double, 2> physical;
  if (options.compute_physical) physical.resize({n_leads, static_cast<std::size_t>(total)});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  wfdb_read_options seg_options = options;
  seg_options.compute_physical = true;
  wfdb_record seg_record;
  std::int64_t at = 0;
  for (const auto& seg : h.segments) {
    if (seg.n_samples == 0) continue;  // layout segment
    std::vector<std::int64_t> source(n_leads, -1);
    if (!seg.is_null()) {
      const wfdb_header sh = segment_header(seg);
      read_single_from_disk(sh, seg_record, seg_options);
      if (seg_record.n_samples != seg.n_samples) {
        error_location where;
        where.file = h.path;
        where.line = seg.line;
        where.field = "segment length";
        throw io_error(where, "segment " + seg.name + " has " + std::to_string(seg_record.n_samples) + " samples",
                       std::to_string(seg.n_samples) + " as listed in the master header");
      }
      const bool same_order = seg_record.leads == out.leads;
      for (std::size_t l = 0; l < n_leads; ++l) {
        if (same_order) {
          source[l] = static_cast<std::int64_t>(l);
          continue;
        }
        for (std::size_t k = 0; k < seg_record.leads.size(); ++k) {
          if (seg_record.leads[k] == out.leads[l]) {
            source[l] = static_cast<std::int64_t>(k);
            break;
          }
        }
      }
    }
    for (std::size_t l = 0; l < n_leads; ++l) {
      std::int32_t* dig = digital.data() + l * static_cast<std::size_t>(total) + at;
      double* phys = options.compute_physical ? physical.data() + l * static_cast<std::size_t>(total) + at : nullptr;
      const auto invalid = wfdb_invalid_value(out.formats[l]);
      const std::int32_t fill = invalid ? *invalid : std::numeric_limits<std::int32_t>::min();
      if (source[l] < 0) {
        for (std::int64_t t = 0; t < seg.n_samples; ++t) {
          dig[t] = fill;
          if (phys) phys[t] = nan;
        }
        out.invalid_per_lead[l] += seg.n_samples;
        continue;
      }
      const auto k = static_cast<std::size_t>(source[l]);
      merge_checksum(out.checksums[l], seg_record.checksums[k]);
      const std::int32_t* sd = seg_record.digital.data() + k * static_cast<std::size_t>(seg.n_samples);
      const double* sp = seg_record.physical.data() + k * static_cast<std::size_t>(seg.n_samples);
      const bool same_scale = seg_record.gains[k] == out.gains[l] && seg_record.baselines[k] == out.baselines[l];
      for (std::int64_t t = 0; t < seg.n_samples; ++t) {
        if (std::isnan(sp[t])) {
          dig[t] = fill;
        } else if (same_scale) {
          dig[t] = sd[t];
        } else {
          const double q = std::round(sp[t] * out.gains[l] + out.baselines[l]);
          dig[t] = q >= -2147483648.0 && q <= 2147483647.0 ? static_cast<std::int32_t>(q) : fill;
        }
        if (phys) phys[t] = sp[t];
      }
      out.invalid_per_lead[l] += seg_record.invalid_per_lead[k];
    }
    at += seg.n_samples;
  }
  for (auto n : out.invalid_per_lead) out.invalid_samples += n;
  out.digital = std::move(digital);
  out.physical = std::move(physical);
}

}  // namespace detail

/// Decodes a record from a parsed header and in-memory signal files: `get_file(spec)` returns
/// the bytes of `spec.file_name` as std::span<const unsigned char>. Single-segment headers only.
template <class FileProvider>
void decode_record(const wfdb_header& header, FileProvider&& get_file, wfdb_record& out,
                   const wfdb_read_options& options = {}) {
  if (header.is_multi_segment()) {
    throw io_error(in_file(header.path, "number of segments"), "decode_record takes single-segment headers",
                   "read_record(path) for multi-segment records");
  }
  detail::decode_single_segment(header, get_file, out, options, detail::thread_workspace().stream);
  out.header = header;
  detail::read_demographics(header, out);
}

/// Fast path: reads `path` (with or without ".hea") into `out`, reusing its tensors and a
/// per-thread byte buffer, so loading many records of the same shape does not reallocate.
/// Each signal file is read once with one buffered read loop.
inline void read_record(const std::string& path, wfdb_record& out, const wfdb_read_options& options = {}) {
  wfdb_header h = read_wfdb_header(detail::header_path_of(path), options.header);
  if (h.is_multi_segment()) {
    detail::read_multi_from_disk(h, out, options);
  } else {
    detail::read_single_from_disk(h, out, options);
  }
  detail::read_demographics(h, out);
  out.header = std::move(h);
}

/// Reads the WFDB record at `path` (with or without ".hea").
[[nodiscard]] inline wfdb_record read_record(const std::string& path, const wfdb_read_options& options = {}) {
  wfdb_record out;
  read_record(path, out, options);
  return out;
}

/// The factor that turns a signal's physical values into millivolts: 1 for mV, 1e-3 for uV, 1e3
/// for V (in the spellings records use); nullopt for anything that is not a voltage (`NU`, the
/// normalised units of band-passed and z-scored records, `mmHg`, ...).
[[nodiscard]] inline std::optional<double> millivolt_scale(const std::string& units) {
  if (units == "mV" || units == "mv" || units == "MV" || units == "Mv") return 1.0;
  if (units == "uV" || units == "uv" || units == "µV" || units == "UV") return 1e-3;
  if (units == "V" || units == "v") return 1e3;
  return std::nullopt;
}

/// Refuses, naming the file and lead, a signal whose units are not a voltage: values in
/// another unit (a z-scored record's `NU` are standard deviations of the lead) would pass for
/// millivolts and silently mix two scales in one data set.
inline double require_millivolt_scale(const std::string& units, const std::string& lead, const std::string& path) {
  const auto scale = millivolt_scale(units);
  if (!scale) {
    throw data_error(in_file(path, "units of lead " + lead), "'" + units + "'" + (units == "NU" ? " (normalised units: already z-scored)" : ""),
                     "a voltage (mV, uV or V): ecgssl's models take millivolts");
  }
  return *scale;
}

/// Reads the record at `path` as x: [leads, samples] in millivolts (uV and V are converted;
/// spec §2.2 val / gain). A record with an invalid sample (NaN) is refused, naming the sample
/// and lead (spec §2.2 skips records with missing samples), and so is one whose units are not a
/// voltage (require_millivolt_scale).
inline tensor<float, 2> read_millivolts(const std::string& path) {
  const wfdb_record r = read_record(path);
  const std::size_t leads = r.n_leads();
  const auto n = static_cast<std::size_t>(r.n_samples);
  tensor<float, 2> x = tensor<float, 2>::from_shape({leads, n});
  for (std::size_t l = 0; l < leads; ++l) {
    const double scale = require_millivolt_scale(r.units[l], r.leads[l], path);
    for (std::size_t i = 0; i < n; ++i) {
      const double v = r.physical(l, i);
      if (!std::isfinite(v)) {
        throw data_error(in_file(path, "sample " + std::to_string(i) + " of lead " + r.leads[l]),
                         "invalid (NaN) sample", "records without missing samples (spec 2.2 skips them)");
      }
      x(l, i) = static_cast<float>(v * scale);
    }
  }
  return x;
}

}  // namespace ecgssl::io

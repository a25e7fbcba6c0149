#pragma once
/// \file manifest.hpp
/// The in-memory description of a data set: one row per record with what a pipeline needs to
/// decide whether and how to use it (spec §2.2: sampling rate, length, leads, #Dx labels, age,
/// sex, identity; records the reference skips get a reason instead of vanishing), saved as CSV.
///
/// CSV (RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled), header
///     path,sampling_frequency,samples,leads,labels,age,sex,record_id,patient_id,skip_reason[,fold][,superclasses]
/// `leads` and `labels` are space-separated lists ("I II III aVR ...", "164889003 59118001"),
/// `age` may be empty (unknown), `skip_reason` is empty for a usable record. Two optional
/// columns follow, each written only when some record has a value, so manifests without them keep
/// their ten columns: `fold` (an integer from 1 to max_fold, or empty) is the record's part of a
/// published split, such as PTB-XL's strat_fold; `superclasses` lists PTB-XL's diagnostic
/// superclasses of the record ("NORM", "MI STTC"; empty = none). Reading reports the file, line
/// and column of any bad field.
///
/// Building a manifest needs a record-header reader, which lives elsewhere: scan_records takes it
/// as a callable `manifest_entry(const std::filesystem::path&)` and turns every ecgssl::error it
/// throws into a skip reason, so one broken file never stops a scan.

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <optional>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../core/error.hpp"
#include "atomic_file.hpp"
#include "detail/csv.hpp"
#include "detail/regular_file.hpp"
#include "lead_set.hpp"
#include "ptbxl_database.hpp"

namespace ecgssl::io {

/// One record of a manifest.
struct manifest_entry {
  std::string path;                 ///< record path (header file), relative to the data root or absolute
  double sampling_frequency = 0.0;  ///< Hz
  std::int64_t samples = 0;         ///< samples per lead
  std::vector<std::string> leads;   ///< lead names as the record spells them (normalised by the reader)
  std::vector<std::uint64_t> labels;  ///< SNOMED CT codes of #Dx
  std::optional<double> age;        ///< years, if known
  std::string sex;                  ///< as written in the header ("Male", "Female", ...)
  std::string record_id;            ///< identity of the record (file stem by default)
  std::string patient_id;           ///< patient, where known (else empty: treat the record as its own patient)
  std::string skip_reason;          ///< why the record is not used; empty = usable
  std::optional<int> fold;          ///< part of a published split (1..manifest::max_fold), if any
  std::vector<std::string> superclasses;  ///< PTB-XL diagnostic superclasses (io::ptbxl_superclasses names)

  [[nodiscard]] bool usable() const { return skip_reason.empty(); }
  friend bool operator==(const manifest_entry&, const manifest_entry&) = default;
};

/// A list of records with CSV write/read.
class manifest {
 public:
  static constexpr std::array<std::string_view, 10> columns{
      "path", "sampling_frequency", "samples", "leads", "labels", "age", "sex", "record_id", "patient_id", "skip_reason"};
  static constexpr std::string_view fold_column = "fold";
  static constexpr std::string_view superclasses_column = "superclasses";
  /// Folds beyond this are refused: PTB-XL has 10; 1000 leaves room without inviting typos.
  static constexpr int max_fold = 1000;

  std::vector<manifest_entry> entries;

  /// Indices of the usable entries.
  [[nodiscard]] std::vector<std::size_t> usable_indices() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].usable()) out.push_back(i);
    }
    return out;
  }

  [[nodiscard]] bool has_folds() const {
    return std::any_of(entries.begin(), entries.end(), [](const manifest_entry& e) { return e.fold.has_value(); });
  }
  [[nodiscard]] bool has_superclasses() const {
    return std::any_of(entries.begin(), entries.end(), [](const manifest_entry& e) { return !e.superclasses.empty(); });
  }

  void write_csv(std::ostream& out) const {
    const bool folds = has_folds(), superclasses = has_superclasses();
    for (std::size_t c = 0; c < columns.size(); ++c) out << (c ? "," : "") << columns[c];
    if (folds) out << ',' << fold_column;
    if (superclasses) out << ',' << superclasses_column;
    out << '\n';
    for (const auto& e : entries) {
      std::string leads, labels;
      for (std::size_t i = 0; i < e.leads.size(); ++i) leads += (i ? " " : "") + e.leads[i];
      for (std::size_t i = 0; i < e.labels.size(); ++i) labels += (i ? " " : "") + std::to_string(e.labels[i]);
      const std::array<std::string, 10> fields{e.path, number(e.sampling_frequency), std::to_string(e.samples), leads,
                                               labels, e.age ? number(*e.age) : std::string(), e.sex, e.record_id,
                                               e.patient_id, e.skip_reason};
      for (std::size_t c = 0; c < fields.size(); ++c) out << (c ? "," : "") << quote(fields[c]);
      if (folds) out << ',' << (e.fold ? std::to_string(*e.fold) : std::string());
      if (superclasses) {
        std::string names;
        for (std::size_t i = 0; i < e.superclasses.size(); ++i) names += (i ? " " : "") + e.superclasses[i];
        out << ',' << names;
      }
      out << '\n';
    }
  }

  /// Writes the CSV file atomically (a failed write leaves any previous file as it was);
  /// io_error if it cannot be written.
  void save(const std::filesystem::path& file) const {
    std::ostringstream text;
    write_csv(text);
    const std::string csv = text.str();
    atomic_file out(file);
    out.write(std::as_bytes(std::span<const char>(csv.data(), csv.size())));
    out.commit();
  }

  /// Parses a manifest; `source` names the stream in error messages.
  static manifest read_csv(std::istream& in, const std::string& source = "<manifest>") {
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    detail::csv_reader reader(text, source);
    manifest m;
    std::vector<std::string> row;
    std::int64_t line = 0;
    if (!reader.next(row, line)) throw io_error(where(source, 1, ""), "empty file", "a header line");
    if (row.size() < columns.size()) {
      throw io_error(where(source, line, ""), std::to_string(row.size()) + " columns in the header",
                     std::to_string(columns.size()) + " columns: " + column_list() + optional_columns());
    }
    std::optional<std::size_t> fold_at, superclasses_at;
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c < columns.size()) {
        if (row[c] != columns[c]) {
          throw io_error(where(source, line, std::string(columns[c])), "header column " + std::to_string(c + 1) + " is '" + row[c] + "'",
                         "columns " + column_list() + optional_columns());
        }
        continue;
      }
      auto* at = row[c] == fold_column ? &fold_at : row[c] == superclasses_column ? &superclasses_at : nullptr;
      if (at == nullptr || at->has_value()) {
        throw io_error(where(source, line, row[c]), "header column " + std::to_string(c + 1) + " is '" + row[c] + "'",
                       "columns " + column_list() + optional_columns() + ", each at most once");
      }
      *at = c;
    }
    const std::size_t width = row.size();
    while (reader.next(row, line)) {
      if (row.size() == 1 && row[0].empty()) continue;  // blank line
      if (row.size() != width) {
        throw io_error(where(source, line, ""), std::to_string(row.size()) + " fields",
                       std::to_string(width) + " fields, as the header line");
      }
      manifest_entry e;
      e.path = row[0];
      if (e.path.empty()) throw io_error(where(source, line, "path"), "empty record path", "a path");
      e.sampling_frequency = parse_double(row[1], source, line, "sampling_frequency");
      if (!(e.sampling_frequency > 0.0)) {
        throw io_error(where(source, line, "sampling_frequency"), "'" + row[1] + "'", "a positive rate in Hz");
      }
      e.samples = parse_integer<std::int64_t>(row[2], source, line, "samples");
      if (e.samples < 0) throw io_error(where(source, line, "samples"), "'" + row[2] + "'", "a non-negative integer");
      e.leads = split_words(row[3]);
      for (const auto& word : split_words(row[4])) {
        e.labels.push_back(parse_integer<std::uint64_t>(word, source, line, "labels"));
      }
      if (!row[5].empty()) e.age = parse_double(row[5], source, line, "age");
      e.sex = row[6];
      e.record_id = row[7];
      e.patient_id = row[8];
      e.skip_reason = row[9];
      if (fold_at && !row[*fold_at].empty()) {
        const std::string& text = row[*fold_at];
        const auto fold = parse_integer<std::int64_t>(text, source, line, "fold");
        if (fold < 1 || fold > max_fold) {
          throw io_error(where(source, line, std::string(fold_column)), "'" + text + "'",
                         "an integer from 1 to " + std::to_string(max_fold) + ", or empty");
        }
        e.fold = static_cast<int>(fold);
      }
      if (superclasses_at) {
        for (auto& name : split_words(row[*superclasses_at])) {
          if (std::find(ptbxl_superclasses.begin(), ptbxl_superclasses.end(), name) == ptbxl_superclasses.end()) {
            throw io_error(where(source, line, std::string(superclasses_column)), "'" + name + "'",
                           "PTB-XL superclasses NORM, MI, STTC, CD or HYP, separated by spaces");
          }
          if (std::find(e.superclasses.begin(), e.superclasses.end(), name) != e.superclasses.end()) {
            throw io_error(where(source, line, std::string(superclasses_column)), "'" + name + "' twice", "each superclass once");
          }
          e.superclasses.push_back(std::move(name));
        }
      }
      m.entries.push_back(std::move(e));
    }
    return m;
  }

  /// Reads a manifest file; io_error naming the file if it cannot be opened or is not a regular file.
  static manifest load(const std::filesystem::path& file) {
    std::istringstream in(detail::read_regular_text_file(file.string(), in_file(file.string()),
                                                         "a manifest CSV file", std::size_t{4} << 30));
    return read_csv(in, file.string());
  }

 private:
  static error_location where(const std::string& source, std::int64_t line, std::string field) {
    error_location loc = in_file(source, std::move(field));
    loc.line = line;
    return loc;
  }

  static std::string optional_columns() {
    return " (then optionally " + std::string(fold_column) + " and " + std::string(superclasses_column) + ")";
  }

  static std::string column_list() {
    std::string out;
    for (std::size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + std::string(columns[c]);
    return out;
  }

  static std::string number(double v) {
    std::array<char, 64> buffer{};
    const auto [ptr, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v);
    return std::string(buffer.data(), ptr);
  }

  static std::string quote(const std::string& field) {
    if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
    std::string out = "\"";
    for (char c : field) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + '"';
  }

  static std::vector<std::string> split_words(const std::string& field) {
    std::vector<std::string> out;
    std::istringstream words(field);
    std::string word;
    while (words >> word) out.push_back(word);
    return out;
  }

  static double parse_double(const std::string& text, const std::string& source, std::int64_t line, const char* field) {
    double v = 0.0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) {
      throw io_error(where(source, line, field), "'" + text + "' is not a number", "a finite decimal number");
    }
    return v;
  }

  template <class Int>
  static Int parse_integer(const std::string& text, const std::string& source, std::int64_t line, const char* field) {
    Int v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
      throw io_error(where(source, line, field), "'" + text + "' is not an integer", "a decimal integer");
    }
    return v;
  }
};

/// What scan_records checks besides readability (the reference's skips, spec §2.2).
struct scan_options {
  std::optional<double> required_sampling_frequency;  ///< e.g. 500: other rates are skipped (no resampling)
  std::int64_t min_samples = 0;                       ///< e.g. 2500: shorter records give no segment
  std::optional<lead_set> required_leads;             ///< leads that must all be present
  std::filesystem::path root;                         ///< if set, paths are written relative to it
};

/// Files under `root` (recursively) whose name ends with `extension` (".hea"), sorted, so a scan
/// is the same on every file system. io_error if root is not a directory.
[[nodiscard]] inline std::vector<std::filesystem::path> find_files(const std::filesystem::path& root,
                                                                   std::string_view extension) {
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) {
    throw io_error(in_file(root.string()), "not a directory", "the folder that holds the records");
  }
  std::vector<std::filesystem::path> out;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    if (name.size() >= extension.size() && name.compare(name.size() - extension.size(), extension.size(), extension) == 0) {
      out.push_back(it->path());
    }
  }
  if (ec) throw io_error(in_file(root.string()), "cannot list: " + ec.message(), "a readable folder");
  std::sort(out.begin(), out.end());
  return out;
}

/// Reads every header with `read_header` (path -> manifest_entry) and applies `options`.
/// A record whose reader throws an ecgssl::error is kept with the message as skip reason.
template <class ReadHeader>
  requires std::is_invocable_r_v<manifest_entry, ReadHeader&, const std::filesystem::path&>
[[nodiscard]] manifest scan_records(std::span<const std::filesystem::path> headers, ReadHeader&& read_header,
                                    const scan_options& options = {}) {
  manifest m;
  for (const auto& header : headers) {
    manifest_entry e;
    try {
      e = read_header(header);
    } catch (const ecgssl::error& problem) {
      e = manifest_entry{};
      e.skip_reason = std::string("unreadable: ") + problem.what();
    }
    e.path = options.root.empty() ? header.generic_string() : header.lexically_relative(options.root).generic_string();
    if (e.record_id.empty()) e.record_id = header.stem().string();
    if (e.usable() && options.required_sampling_frequency && e.sampling_frequency != *options.required_sampling_frequency) {
      std::ostringstream why;
      why << "sampling frequency " << e.sampling_frequency << " Hz (required " << *options.required_sampling_frequency << " Hz)";
      e.skip_reason = why.str();
    }
    if (e.usable() && e.samples < options.min_samples) {
      e.skip_reason = std::to_string(e.samples) + " samples (fewer than " + std::to_string(options.min_samples) + ")";
    }
    if (e.usable() && options.required_leads) {
      std::string missing;
      for (auto slot : options.required_leads->slots()) {
        const bool present = std::any_of(e.leads.begin(), e.leads.end(), [&](const std::string& name) {
          return standard_lead_index(name) == slot;
        });
        if (!present) missing += (missing.empty() ? "" : ",") + std::string(canonical_lead_names[slot]);
      }
      if (!missing.empty()) e.skip_reason = "missing leads " + missing;
    }
    m.entries.push_back(std::move(e));
  }
  return m;
}

}  // namespace ecgssl::io

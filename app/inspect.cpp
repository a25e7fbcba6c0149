/// \file inspect.cpp
/// `ecgssl inspect RECORD... [--json] [--samples N]`: prints what a WFDB record holds (rate,
/// length, leads, units, gains, baselines, demographics, SNOMED codes, invalid samples,
/// checksums) as a readable summary or as one JSON object per line per record.
///
/// JSON keys: record, path, fs, n_samples, n_leads, leads, units, gain, baseline, age (null if
/// absent), sex, dx (SNOMED CT codes as strings), labels, invalid_samples, checksums_ok and,
/// with --samples N, samples (one list per lead of the first N physical values, NaN as null).
/// `labels` are the scored Challenge 2021 classes of the record's codes (spec §2.3), as
/// abbreviations in class order ("CRBBB|RBBB" for an equivalence class); `inspect_hooks` can
/// substitute another label space.

#include "commands.hpp"

#include <ecgssl/core/error.hpp>
#include <ecgssl/io/challenge_labels.hpp>
#include <ecgssl/io/wfdb_record.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <functional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace ecgssl::cli {

namespace detail {

inline constexpr const char* inspect_usage = "usage: ecgssl inspect RECORD... [--json] [--samples N]";

inline std::string format_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

inline nlohmann::json record_json(const io::wfdb_record& rec, const std::string& path, std::int64_t n_show,
                                  const inspect_hooks& hooks) {
  nlohmann::json j;
  j["record"] = rec.name;
  j["path"] = path;
  j["fs"] = rec.fs;
  j["n_samples"] = rec.n_samples;
  j["n_leads"] = rec.n_leads();
  j["leads"] = rec.leads;
  j["units"] = rec.units;
  j["gain"] = rec.gains;
  j["baseline"] = rec.baselines;
  j["age"] = rec.age ? nlohmann::json(*rec.age) : nlohmann::json(nullptr);
  j["sex"] = rec.sex;
  j["dx"] = rec.dx;
  j["labels"] = hooks.dx_to_labels ? hooks.dx_to_labels(rec.dx) : std::vector<std::string>{};
  j["invalid_samples"] = rec.invalid_samples;
  j["checksums_ok"] = rec.checksums_ok();
  if (n_show >= 0) {
    const auto n = static_cast<std::size_t>(std::min<std::int64_t>(n_show, rec.n_samples));
    nlohmann::json samples = nlohmann::json::array();
    for (std::size_t l = 0; l < rec.n_leads(); ++l) {
      nlohmann::json lead = nlohmann::json::array();
      for (std::size_t t = 0; t < n; ++t) {
        const double v = rec.physical(l, t);
        lead.push_back(std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v));
      }
      samples.push_back(std::move(lead));
    }
    j["samples"] = std::move(samples);
  }
  return j;
}

/// Joins per-lead values, or prints one value when every lead has the same.
template <class T, class F>
std::string per_lead(const std::vector<T>& values, F&& show) {
  if (values.empty()) return "-";
  if (std::all_of(values.begin(), values.end(), [&](const T& v) { return v == values.front(); })) {
    return show(values.front()) + (values.size() > 1 ? " (all leads)" : "");
  }
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? " " : "") + show(values[i]);
  return out;
}

inline void print_summary(std::ostream& out, const io::wfdb_record& rec, const std::string& path, std::int64_t n_show,
                          const inspect_hooks& hooks) {
  out << rec.name << "  (" << path << ")\n";
  out << "  " << rec.n_leads() << " leads x " << rec.n_samples << " samples at " << rec.fs << " Hz ("
      << format_number(rec.fs > 0 ? static_cast<double>(rec.n_samples) / rec.fs : 0.0) << " s)\n";
  std::string leads;
  for (std::size_t i = 0; i < rec.leads.size(); ++i) leads += (i ? " " : "") + (rec.leads[i].empty() ? "?" : rec.leads[i]);
  out << "  leads: " << leads << "\n";
  out << "  units: " << per_lead(rec.units, [](const std::string& s) { return s; }) << "\n";
  out << "  gain: " << per_lead(rec.gains, [](double g) { return format_number(g); }) << "\n";
  out << "  baseline: " << per_lead(rec.baselines, [](std::int32_t b) { return std::to_string(b); }) << "\n";
  out << "  age: " << (rec.age ? format_number(*rec.age) : std::string("-")) << ", sex: " << (rec.sex.empty() ? "-" : rec.sex)
      << "\n";
  std::string dx;
  for (std::size_t i = 0; i < rec.dx.size(); ++i) dx += (i ? "," : "") + rec.dx[i];
  out << "  dx: " << (dx.empty() ? "-" : dx) << "\n";
  if (hooks.dx_to_labels) {
    std::string labels;
    for (const auto& l : hooks.dx_to_labels(rec.dx)) labels += (labels.empty() ? "" : ",") + l;
    out << "  labels: " << (labels.empty() ? "-" : labels) << "\n";
  }
  out << "  invalid samples: " << rec.invalid_samples << ", checksums: " << (rec.checksums_ok() ? "ok" : "MISMATCH") << "\n";
  if (n_show >= 0) {
    const auto n = static_cast<std::size_t>(std::min<std::int64_t>(n_show, rec.n_samples));
    for (std::size_t l = 0; l < rec.n_leads(); ++l) {
      out << "  " << (rec.leads[l].empty() ? "?" : rec.leads[l]) << ":";
      for (std::size_t t = 0; t < n; ++t) out << ' ' << format_number(rec.physical(l, t));
      out << "\n";
    }
  }
}

}  // namespace detail

/// Runs `inspect` on `args` (the words after "inspect"). Returns 0 on success, 1 if a record
/// could not be read (one line on `err` naming file and field, the other records still
/// printed), 2 for a usage error.
int run_inspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                       const inspect_hooks& hooks) {
  bool json = false;
  std::int64_t n_show = -1;
  std::vector<std::string> records;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--samples" || a.rfind("--samples=", 0) == 0) {
      std::string value;
      if (a == "--samples") {
        if (i + 1 >= args.size()) {
          err << "ecgssl inspect: option '--samples' needs a value (expected a non-negative integer)\n";
          return 2;
        }
        value = args[++i];
      } else {
        value = a.substr(10);
      }
      std::int64_t n = -1;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc{} || end != value.data() + value.size() || n < 0) {
        err << "ecgssl inspect: option '--samples': cannot read '" << value << "' (expected a non-negative integer)\n";
        return 2;
      }
      n_show = n;
    } else if (a == "--help" || a == "-h") {
      out << detail::inspect_usage << "\n";
      return 0;
    } else if (a.size() > 1 && a[0] == '-' && a[1] == '-') {
      err << "ecgssl inspect: unknown option '" << a << "' (" << detail::inspect_usage << ")\n";
      return 2;
    } else {
      records.push_back(a);
    }
  }
  if (records.empty()) {
    err << "ecgssl inspect: no record given (" << detail::inspect_usage << ")\n";
    return 2;
  }
  int status = 0;
  io::wfdb_record rec;
  io::wfdb_read_options options;
  for (const auto& path : records) {
    try {
      io::read_record(path, rec, options);
    } catch (const ecgssl::error& e) {
      err << "ecgssl inspect: " << e.what() << "\n";
      status = 1;
      continue;
    }
    if (json) {
      out << detail::record_json(rec, path, n_show, hooks).dump() << "\n";
    } else {
      detail::print_summary(out, rec, path, n_show, hooks);
    }
  }
  return status;
}

/// The scored Challenge 2021 classes of a list of SNOMED CT codes, in class order. Codes that
/// are not decimal numbers or not scored are left out (inspect shows them under `dx`).
inline std::vector<std::string> challenge_dx_labels(const std::vector<std::string>& dx) {
  std::array<bool, io::challenge_class_count> present{};
  for (const auto& text : dx) {
    std::uint64_t code = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
    if (ec != std::errc{} || end != text.data() + text.size()) continue;
    if (const auto c = io::challenge_class_of(code)) present[*c] = true;
  }
  std::vector<std::string> labels;
  for (std::size_t c = 0; c < present.size(); ++c) {
    if (present[c]) labels.emplace_back(io::challenge_class_abbreviation(c));
  }
  return labels;
}

/// As above, with the Challenge 2021 label space.
int run_inspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  return run_inspect(args, out, err, inspect_hooks{&challenge_dx_labels});
}

}  // namespace ecgssl::cli

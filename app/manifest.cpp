/// \file manifest.cpp
/// `ecgssl manifest DIR --out FILE.csv [--fs HZ] [--min-seconds S]`: scans a folder of WFDB
/// records into a manifest (io/manifest.hpp) and prints what was kept and why the others were
/// skipped. The same scan and skip rules as `ecgssl pretrain --data DIR` (spec §2.2: other
/// sampling rates and records shorter than one segment are skipped, never resampled silently).

#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.hpp"

#include <ecgssl/io/manifest.hpp>
#include <ecgssl/io/wfdb_manifest.hpp>
#include "detail/cli11_run.hpp"
#include "detail/validators.hpp"

namespace ecgssl::cli {

int run_manifest(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{"Scan a folder of WFDB records into a manifest CSV", "ecgssl manifest"};
  std::string folder;
  std::string output;
  double fs = 500.0;
  double min_seconds = 5.0;
  app.add_option("DIR", folder, "folder scanned recursively for .hea files")->required();
  app.add_option("--out", output, "manifest CSV to write (atomically)")->required();
  app.add_option("--fs", fs, "sampling frequency to keep, Hz (others are skipped)")->capture_default_str()->check(detail::finite_positive());
  app.add_option("--min-seconds", min_seconds, "shortest record kept, seconds")->capture_default_str()->check(detail::finite_in(0, 86400.0 * 366));
  return detail::run_cli11(app, args, out, err, [&] {
    if (!(fs > 0.0)) throw config_error(at_field("--fs"), std::to_string(fs), "a positive frequency in Hz");
    if (!(min_seconds >= 0.0)) throw config_error(at_field("--min-seconds"), std::to_string(min_seconds), "a non-negative number");
    const auto headers = io::find_files(folder, ".hea");
    io::scan_options options;
    options.required_sampling_frequency = fs;
    options.min_samples = static_cast<std::int64_t>(min_seconds * fs + 0.5);
    options.root = folder;
    const io::manifest m = io::scan_records(headers, &io::read_manifest_entry, options);
    m.save(output);

    std::map<std::string, std::size_t> skipped_by_reason;
    std::size_t kept = 0;
    for (const auto& e : m.entries) {
      if (e.usable()) {
        ++kept;
      } else {
        // Group by the reason's first clause so a hundred unreadable files read as one line.
        ++skipped_by_reason[e.skip_reason.substr(0, e.skip_reason.find(':'))];
      }
    }
    out << "ecgssl manifest: " << m.entries.size() << " records in " << folder << ": " << kept << " kept, "
        << (m.entries.size() - kept) << " skipped -> " << output << "\n";
    for (const auto& [reason, count] : skipped_by_reason) out << "  skipped " << count << ": " << reason << "\n";
    return 0;
  });
}

}  // namespace ecgssl::cli

/// \file manifest.cpp
/// `ecgssl manifest DIR --out FILE.csv [--fs HZ] [--min-seconds S] [--headers-only]`: scans a
/// folder of WFDB records into a manifest (io/manifest.hpp); each kept record's signal files are
/// read too, unless --headers-only. Prints what was kept and why the others were skipped. The same scan and skip rules as `ecgssl pretrain --data DIR` (spec §2.2: other
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
#include <ecgssl/io/wfdb_record.hpp>
#include "detail/cli11_run.hpp"
#include "detail/output_target.hpp"
#include "detail/skip_summary.hpp"
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
  bool headers_only = false;
  app.add_flag("--headers-only", headers_only,
               "trust the headers: do not read each kept record's signal files (faster, but a record "
               "whose data is broken is listed as kept and stops a later pretrain run)");
  app.add_option("--min-seconds", min_seconds, "shortest record kept, seconds")->capture_default_str()->check(detail::finite_in(0, 86400.0 * 366));
  return detail::run_cli11(app, args, out, err, [&] {
    if (!(fs > 0.0)) throw config_error(at_field("--fs"), std::to_string(fs), "a positive frequency in Hz");
    if (!(min_seconds >= 0.0)) throw config_error(at_field("--min-seconds"), std::to_string(min_seconds), "a non-negative number");
    const auto lock = detail::claim_output(output, "--out");
    const auto headers = io::find_files(folder, ".hea");
    io::scan_options options;
    options.required_sampling_frequency = fs;
    options.min_samples = static_cast<std::int64_t>(min_seconds * fs + 0.5);
    options.root = folder;
    io::manifest m = io::scan_records(headers, &io::read_manifest_entry, options);
    if (!headers_only) {
      // A kept record must also be readable: its signal files decode to the header's length
      // without invalid samples, as pretrain will read it.
      for (auto& e : m.entries) {
        if (!e.usable()) continue;
        const std::filesystem::path p(e.path);
        try {
          (void)io::read_millivolts((p.is_absolute() ? p : std::filesystem::path(folder) / p).string());
        } catch (const ecgssl::error& failure) {
          e.skip_reason = std::string("unreadable signal: ") + failure.what();
        }
      }
    }
    m.save(output);

    const std::size_t kept = m.usable_indices().size();
    out << "ecgssl manifest: " << m.entries.size() << " records in " << folder << ": " << kept << " kept, "
        << (m.entries.size() - kept) << " skipped -> " << output << "\n";
    detail::print_skipped(out, m);
    return 0;
  });
}

}  // namespace ecgssl::cli

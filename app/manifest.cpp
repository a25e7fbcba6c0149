/// \file manifest.cpp
/// `ecgssl manifest DIR --out FILE.csv [--fs HZ] [--min-seconds S] [--headers-only]`: scans a
/// folder of WFDB records into a manifest (io/manifest.hpp); each kept record's signal files are
/// read too, unless --headers-only. Prints what was kept and why the others were skipped. The same scan and skip rules as `ecgssl pretrain --data DIR` (spec §2.2: other
/// sampling rates and records shorter than one segment are skipped, never resampled silently).
///
/// `--ptbxl-database ptbxl_database.csv [--ptbxl-statements scp_statements.csv]` takes each
/// record's labels and patient from PTB-XL's metadata instead of its header
/// (io/ptbxl_database.hpp): the Challenge 2020 classes its SCP statements name, and its
/// patient_id, so a split keeps a patient's records together, its strat_fold as the manifest's
/// fold (`finetune --split folds`), and its diagnostic superclasses (`finetune --task
/// superclass`). Records the database does not list are skipped with that reason.

#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.hpp"

#include <ecgssl/data/preprocessing.hpp>
#include <ecgssl/io/manifest.hpp>
#include <ecgssl/io/ptbxl_database.hpp>
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
  std::string ptbxl_database, ptbxl_statements, preprocess = "none";
  app.add_option("--preprocess", preprocess, "none or bandpass,zscore: what the records are checked to be readable as "
                                             "(bandpass,zscore admits z-scored records in NU)")->capture_default_str();
  app.add_option("--ptbxl-database", ptbxl_database, "PTB-XL's ptbxl_database.csv: labels and patients from it, not from #Dx");
  app.add_option("--ptbxl-statements", ptbxl_statements, "PTB-XL's scp_statements.csv (default: beside the database)");
  app.add_option("--min-seconds", min_seconds, "shortest record kept, seconds")->capture_default_str()->check(detail::finite_in(0, 86400.0 * 366));
  return detail::run_cli11(app, args, out, err, [&] {
    if (!(fs > 0.0)) throw config_error(at_field("--fs"), std::to_string(fs), "a positive frequency in Hz");
    if (!(min_seconds >= 0.0)) throw config_error(at_field("--min-seconds"), std::to_string(min_seconds), "a non-negative number");
    if (!ptbxl_statements.empty() && ptbxl_database.empty()) {
      throw config_error(at_field("--ptbxl-statements"), "given alone", "with --ptbxl-database");
    }
    const data::preprocessing prep = data::parse_preprocessing(preprocess, at_field("--preprocess"));
    std::optional<io::ptbxl_database> ptbxl;
    if (!ptbxl_database.empty()) {
      const std::filesystem::path statements = ptbxl_statements.empty()
                                                   ? std::filesystem::path(ptbxl_database).parent_path() / "scp_statements.csv"
                                                   : std::filesystem::path(ptbxl_statements);
      ptbxl = io::ptbxl_database::load(ptbxl_database, statements);  // refused before any record is read
    }
    const auto lock = detail::claim_output(output, "--out");
    const auto headers = io::find_files(folder, ".hea");
    io::scan_options options;
    options.required_sampling_frequency = fs;
    options.min_samples = static_cast<std::int64_t>(min_seconds * fs + 0.5);
    options.root = folder;
    io::manifest m = io::scan_records(headers, &io::read_manifest_entry, options);
    if (ptbxl) {
      for (auto& e : m.entries) {
        if (!e.usable()) continue;
        const auto id = io::ptbxl_database::ecg_id_of(std::filesystem::path(e.path).stem().string());
        const io::ptbxl_record* r = id ? ptbxl->find(*id) : nullptr;
        if (r == nullptr) {
          e.skip_reason = "not listed in " + ptbxl_database;
          continue;
        }
        e.labels = io::ptbxl_database::challenge_codes(*r);
        e.patient_id = r->patient_id;
        e.fold = r->strat_fold;
        const auto present = ptbxl->superclass_labels(*r);
        for (std::size_t k = 0; k < present.size(); ++k) {
          if (present[k] != 0) e.superclasses.emplace_back(io::ptbxl_superclasses[k]);
        }
      }
    }
    if (!headers_only) {
      // A kept record must also be readable: its signal files decode to the header's length
      // without invalid samples, as pretrain will read it.
      for (auto& e : m.entries) {
        if (!e.usable()) continue;
        const std::filesystem::path p(e.path);
        try {
          (void)data::read_model_input((p.is_absolute() ? p : std::filesystem::path(folder) / p).string(), prep);
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

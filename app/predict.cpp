/// \file predict.cpp
/// `ecgssl predict --checkpoint CK2 [--leads LIST] --out DIR RECORD...`: classifies WFDB records
/// with a fine-tuned arrhythmia model and writes one Challenge 2021 output file per record
/// (`DIR/<record>.csv`, io/challenge_output.hpp). A record's probabilities are the mean over
/// its complete 5 s segments; a class is predicted when that mean exceeds 0.5 (spec §6.2).
/// RECORD is a header path with or without `.hea`. Default lead set: the one the model was
/// fine-tuned with.

#include <ecgssl/core/error.hpp>
#include <ecgssl/data/preprocessing.hpp>
#include <ecgssl/data/record_source.hpp>
#include <ecgssl/data/segment_set.hpp>
#include <ecgssl/io/manifest.hpp>
#include <ecgssl/io/challenge_output.hpp>
#include <ecgssl/pipeline/finetuning/evaluation.hpp>
#include <ecgssl/pipeline/finetuning/finetune_checkpoint.hpp>
#include <ecgssl/io/wfdb_manifest.hpp>
#include <ecgssl/io/wfdb_record.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "detail/cli11_run.hpp"
#include "detail/format.hpp"
#include "detail/precision_option.hpp"

namespace ecgssl::cli {

/// `ecgssl predict`; see the file comment.
int run_predict(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{"write Challenge 2021 output files for WFDB records with a fine-tuned arrhythmia model",
               "ecgssl predict"};
  std::string checkpoint, leads_text, out_dir;
  std::vector<std::string> records;
  app.add_option("--checkpoint", checkpoint, "fine-tuned arrhythmia checkpoint (ecgssl finetune)")->required();
  app.add_option("--leads", leads_text, "lead set (default: the fine-tuning lead set)");
  app.add_option("--out", out_dir, "folder for the output files")->required();
  app.add_option("records", records, "WFDB records (header paths, .hea optional)")->required();
  std::string preprocess;
  app.add_option("--preprocess", preprocess, "none or bandpass,zscore: only for a checkpoint that records none (default: the checkpoint's)");
  std::string precision_text = "fp32";
  detail::add_precision_option(app, precision_text);
  return detail::run_cli11(app, args, out, err, [&]() -> int {
  const precision_scope products(detail::parse_precision_option(precision_text, detail::compute_device::host));

  pipeline::finetune_checkpoint_info info;
  {
    // The output folder is made (or refused) before the model and records are read.
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec || !std::filesystem::is_directory(out_dir)) {
      throw io_error(at_field("--out"), "cannot use '" + out_dir + "' as the output folder" + (ec ? ": " + ec.message() : ""),
                     "a folder this process may create and write to");
    }
  }
  auto model = pipeline::load_finetuned<float>(checkpoint, &info);
  if (info.model.task != pipeline::finetune_task::arrhythmia) {
    throw config_error(in_file(checkpoint, "ecgssl.config.task"), pipeline::task_name(info.model.task),
                       "an arrhythmia model (predict writes Challenge classifier outputs)");
  }
  const io::lead_set leads = io::lead_set::parse(leads_text.empty() ? info.leads : leads_text, at_field("--leads"));
  const data::preprocessing prep = data::preprocessing_for(data::recorded_preprocessing(info.preprocess, checkpoint), preprocess, checkpoint);
  io::manifest m;
  for (const auto& r : records) {
    std::filesystem::path header(r);
    if (header.extension() != ".hea") header += ".hea";
    io::manifest_entry e = io::read_manifest_entry(header);
    e.path = header.string();
    if (!e.skip_reason.empty()) throw data_error(in_file(header.string()), e.skip_reason, "a single-segment record");
    if (e.sampling_frequency != 500.0) {
      throw data_error(in_file(header.string(), "sampling frequency"), std::to_string(e.sampling_frequency) + " Hz",
                       "500 Hz (resample first)");
    }
    if (e.samples < 2500) {
      throw data_error(in_file(header.string(), "samples"), std::to_string(e.samples) + " samples per lead",
                       "at least 2500 (one 5 s segment at 500 Hz)");
    }
    m.entries.push_back(std::move(e));
  }
  // One output file per record id: two records with the same name would overwrite each other.
  std::map<std::string, std::string> first_path_of;
  for (const auto& e : m.entries) {
    const auto [at, fresh] = first_path_of.emplace(e.record_id, e.path);
    if (!fresh) {
      throw config_error(at_field("records"), "'" + e.path + "' and '" + at->second + "' are both record " + e.record_id,
                         "records with distinct names (each writes <out>/<record>.csv)");
    }
  }
  const data::record_source source(
      m, [prep](const io::manifest_entry& e) { return data::read_model_input(e.path, prep); });
  const auto set = data::segment_set::from_source(source);
  const auto segment_p = pipeline::predict_probabilities(*model, set, leads);
  std::vector<std::string> ids;
  const auto p = pipeline::mean_by_record(segment_p, set.record_ids, ids);
  std::filesystem::create_directories(out_dir);
  // Outputs are never non-finite: check every record before any file is written.
  for (std::size_t r = 0; r < ids.size(); ++r) {
    for (std::size_t c = 0; c < io::challenge_class_count; ++c) {
      if (!std::isfinite(p(r, c))) {
        throw data_error(in_file(ids[r], std::string(io::challenge_class_abbreviation(c))),
                         "the predicted probability is not finite",
                         "finite input samples (check the record's header gains and signal file)");
      }
    }
  }
  for (std::size_t r = 0; r < ids.size(); ++r) {
    io::challenge_output o;
    o.record_id = ids[r];
    for (std::size_t c = 0; c < io::challenge_class_count; ++c) {
      o.probabilities[c] = p(r, c);
      o.decisions[c] = p(r, c) > 0.5f ? 1.0f : 0.0f;
    }
    o.save(out_dir);
  }
  out << "wrote " << ids.size() << " output files to " << out_dir << " (" << set.size() << " segments, leads "
      << leads.to_string() << ")\n";
  return 0;
  });
}

}  // namespace ecgssl::cli

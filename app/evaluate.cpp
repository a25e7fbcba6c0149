/// \file evaluate.cpp
/// `ecgssl evaluate --checkpoint CK2 --data DIR_OR_MANIFEST --leads LIST|all [--split S] [--json]`:
/// evaluates one fine-tuned model on several lead sets (zero fill; "all" = the paper's Table 1
/// columns 12, 6, 3, 2, 1) and prints a table, or one JSON object with a key per lead set.
/// Arrhythmia (per segment, spec §6.2): challenge_score, auroc, auprc (macro), accuracy, f_measure;
/// superclass (PTB-XL's five, records without one left out): the same without challenge_score;
/// identification (spec §6.3): top1 (gallery = first, probe = second segment of each identity).
/// --split test|valid|train rebuilds the fine-tuning split stored in the checkpoint (same data,
/// same seed); the default `all` evaluates every segment of --data. `--device cuda` (an ecgssl
/// built with CUDA) runs the model on the GPU.
/// `--bootstrap N` adds 95% intervals of every classification metric and lead set by the bootstrap
/// over records (N resamples, `--bootstrap-seed`; metrics/bootstrap.hpp): a second table, or an
/// "intervals" object per lead set in the JSON.

#include <ecgssl/data/preprocessing.hpp>
#include <ecgssl/pipeline/finetuning/evaluation.hpp>
#include <ecgssl/pipeline/finetuning/finetune_checkpoint.hpp>
#include <ecgssl/data/wfdb_dataset.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "detail/cli11_run.hpp"
#include "detail/device_option.hpp"
#include "detail/precision_option.hpp"
#include "detail/format.hpp"
#include "detail/evaluate_run.hpp"

namespace ecgssl::cli {


/// `ecgssl evaluate`; see the file comment.
int run_evaluate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{"evaluate a fine-tuned model on lead sets (the paper's P-N-lead columns)", "ecgssl evaluate"};
  std::string checkpoint, data, split_name = "all";
  std::vector<std::string> lead_names{"all"};
  bool json = false;
  std::size_t bootstrap = 0;
  std::uint64_t bootstrap_seed = 1;
  app.add_option("--checkpoint", checkpoint, "fine-tuned checkpoint (ecgssl finetune)")->required();
  app.add_option("--data", data, "folder of WFDB records or a manifest .csv")->required();
  app.add_option("--leads", lead_names, "lead sets (12, 6, 4, 3, 2, 1, I,II,V2 ...) or all (= 12 6 3 2 1)");
  app.add_option("--split", split_name, "all, or the train/valid/test part of the checkpoint's fine-tuning split")
      ->check(CLI::IsMember({"all", "train", "valid", "test"}));
  app.add_flag("--json", json, "print one JSON object with a key per lead set");
  app.add_option("--bootstrap", bootstrap, "resamples of the records for 95% intervals (0 = none; 1000 is usual)")
      ->capture_default_str()->check(CLI::Range(std::size_t{0}, std::size_t{100000}));
  app.add_option("--bootstrap-seed", bootstrap_seed, "seed of the bootstrap's draws")->capture_default_str();
  std::string preprocess;
  app.add_option("--preprocess", preprocess, "none or bandpass,zscore: only for a checkpoint that records none (default: the checkpoint's)");
  std::string device = "host", precision_text = "fp32";
  detail::add_device_option(app, device);
  detail::add_precision_option(app, precision_text);
  return detail::run_cli11(app, args, out, err, [&]() -> int {
  const auto where = detail::parse_device(device);
  const precision_scope products(detail::parse_precision_option(precision_text, where));

  std::vector<std::string> sets;
  for (const auto& n : lead_names) {
    if (n == "all") {
      for (const auto& p : pipeline::paper_lead_sets()) sets.push_back(p);
    } else {
      io::lead_set::parse(n, at_field("--leads"));  // reject a bad name before the slow part
      sets.push_back(n);
    }
  }
  const io::checkpoint ck = io::checkpoint::load(checkpoint);
  const pipeline::finetune_checkpoint_info info = pipeline::read_finetune_info(ck, checkpoint);
  std::vector<std::string> patients;
  std::vector<int> folds;
  const data::preprocessing prep = data::preprocessing_for(data::recorded_preprocessing(info.preprocess, checkpoint), preprocess, checkpoint);
  const bool superclass = info.model.task == pipeline::finetune_task::superclass;
  data::segment_set all = data::load_segment_set(data, &patients, prep, &folds,
                                                 superclass ? data::label_space::ptbxl_superclasses : data::label_space::challenge);
  // The records fine-tuning left out are left out here too, so --split rebuilds the same parts.
  if (superclass) (void)pipeline::keep_labelled(all, patients, folds);
  data::segment_set part;
  const bool id_task = info.model.task == pipeline::finetune_task::identification;
  const metrics::class_set class_kind = pipeline::class_set_of(info.model.task);
  const bool challenge = class_kind == metrics::class_set::challenge;
  if (split_name != "all") {
    auto split = info.split_by_folds ? pipeline::split_by_folds(all, folds, info.valid_fold, info.test_fold, data)
                                     : pipeline::split_segments(all, info.model.task, info.valid_fraction, info.split_seed, patients);
    part = split_name == "train" ? std::move(split.train) : split_name == "valid" ? std::move(split.valid) : std::move(split.test);
  } else {
    part = std::move(all);
  }
  if (part.size() == 0) throw data_error(in_file(data), "the " + split_name + " part has no segment", "more records");
#if defined(ECGSSL_CLI_WITH_CUDA)
  const auto results = where == detail::compute_device::cuda ? detail::evaluate_on_cuda(ck, info, part, sets)
                                                            : detail::evaluate_checkpoint<host>(ck, info, part, sets);
#else
  (void)where;  // parse_device refused cuda: this binary has no GPU pipelines
  const auto results = detail::evaluate_checkpoint<host>(ck, info, part, sets);
#endif

  const auto num = [](double v) { return v == v ? nlohmann::json(v) : nlohmann::json(nullptr); };
  if (bootstrap == 1) throw config_error(at_field("--bootstrap"), "1 resample", "0 (no intervals) or at least 2 (1000 is usual)");
  if (bootstrap > 0 && id_task) {
    throw config_error(at_field("--bootstrap"), "an identification model",
                       "an arrhythmia or superclass model (intervals of top-1 are not implemented)");
  }
  const std::vector<std::string> interval_columns = pipeline::interval_names(class_kind);
  std::vector<std::vector<metrics::bootstrap_interval>> intervals;
  for (const auto& r : results) {
    if (bootstrap > 0) {
      intervals.push_back(pipeline::bootstrap_arrhythmia(part, r.probabilities, bootstrap, bootstrap_seed, class_kind));
    }
  }
  if (json) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& r : results) {
      if (id_task) {
        j[r.name] = {{"top1", num(r.score)}, {"segments", part.size()}};
      } else {
        j[r.name] = {{"auroc", num(r.diagnosis.macro_auroc)}, {"auprc", num(r.diagnosis.macro_auprc)},
                     {"accuracy", num(r.diagnosis.accuracy)}, {"f_measure", num(r.diagnosis.macro_f_measure)},
                     {"segments", part.size()}};
        if (challenge) j[r.name]["challenge_score"] = num(r.diagnosis.challenge_score);
        if (bootstrap > 0) {
          nlohmann::json ci = nlohmann::json::object();
          const auto& iv = intervals[static_cast<std::size_t>(&r - results.data())];
          for (std::size_t c = 0; c < iv.size(); ++c) ci[interval_columns[c]] = {num(iv[c].low), num(iv[c].high)};
          ci["resamples"] = bootstrap;
          ci["seed"] = bootstrap_seed;
          ci["level"] = 0.95;
          j[r.name]["intervals"] = ci;
        }
      }
    }
    out << j.dump() << "\n";
    return 0;
  }
  out << pipeline::task_name(info.model.task) << " model " << checkpoint << " on " << part.size() << " segments ("
      << split_name << ")\n";
  if (id_task) {
    out << "lead set      top1\n";
    for (const auto& r : results) {
      std::string name = r.name;
      name.resize(std::max<std::size_t>(name.size(), 12), ' ');
      out << name << "  " << detail::fixed4(r.score) << "\n";
    }
    return 0;
  }
  out << (challenge ? "lead set      challenge_score  auroc   auprc   accuracy  f_measure\n"
                    : "lead set      auroc   auprc   accuracy  f_measure\n");
  for (const auto& r : results) {
    std::string name = r.name;
    name.resize(std::max<std::size_t>(name.size(), 12), ' ');
    out << name << "  ";
    if (challenge) out << detail::fixed4(r.diagnosis.challenge_score) << "           ";
    out << detail::fixed4(r.diagnosis.macro_auroc) << "  " << detail::fixed4(r.diagnosis.macro_auprc) << "  "
        << detail::fixed4(r.diagnosis.accuracy) << "    " << detail::fixed4(r.diagnosis.macro_f_measure) << "\n";
  }
  if (bootstrap > 0) {
    out << "95% intervals (bootstrap over records, " << bootstrap << " resamples, seed " << bootstrap_seed << ")\n";
    // Each cell "[ low,  high]" is 18 characters; the column names are padded to match.
    std::string titles = "lead set    ";
    for (const auto& column : interval_columns) {
      std::string title = column;
      title.resize(std::max<std::size_t>(title.size(), 18), ' ');
      titles += "  " + title;
    }
    out << titles.substr(0, titles.find_last_not_of(' ') + 1) << "\n";
    for (std::size_t k = 0; k < results.size(); ++k) {
      std::string name = results[k].name;
      name.resize(std::max<std::size_t>(name.size(), 12), ' ');
      out << name;
      for (const auto& iv : intervals[k]) {
        char cell[64];
        std::snprintf(cell, sizeof cell, "  [%7.4f, %7.4f]", iv.low, iv.high);
        out << cell;
      }
      out << "\n";
    }
  }
  return 0;
  });
}

}  // namespace ecgssl::cli

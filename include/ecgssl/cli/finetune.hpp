#pragma once
/// \file finetune.hpp
/// `ecgssl finetune --task arrhythmia|identification (--checkpoint CK | --random-init [--config C])
///  --data DIR_OR_MANIFEST [--leads LIST] [--epochs N] [--seed S] --out CK2 [...]`:
/// fine-tunes a pre-trained encoder (or a randomly initialised one) for the task of spec §6 on
/// the training part of the data (split by record, pipeline/finetune_checkpoint.hpp), validates
/// each epoch on the validation part (Challenge score or top-1 identification accuracy), keeps
/// the best epoch (early stopping with --patience) and writes it to --out. Prints a progress bar
/// and one line of validation metrics per epoch. `--device cuda` (an ecgssl built with CUDA)
/// trains on the GPU.

#include <ecgssl/core/error.hpp>
#include <ecgssl/io/checkpoint.hpp>
#include <ecgssl/io/lead_set.hpp>
#include <ecgssl/pipeline/encoder_config.hpp>
#include <ecgssl/pipeline/finetune_checkpoint.hpp>
#include <ecgssl/pipeline/finetuner.hpp>
#include <ecgssl/pipeline/pretrained_encoder.hpp>
#include <ecgssl/pipeline/progress_bar.hpp>
#include <ecgssl/pipeline/wfdb_dataset.hpp>

#include <cstdio>
#include <iostream>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include <unistd.h>

#include "detail/cli11_run.hpp"
#include "detail/device_option.hpp"
#include "detail/format.hpp"

namespace ecgssl::cli {

namespace detail {

/// The segments of a folder or manifest (pipeline::wfdb_dataset) and each segment's patient
/// (the record when the manifest names none).
inline pipeline::segment_set load_segments(const std::string& data, std::vector<std::string>* patients = nullptr) {
  const pipeline::wfdb_dataset ds(data);
  pipeline::segment_set all = pipeline::segment_set::from_source(*ds.segments());
  if (patients != nullptr) {
    std::unordered_map<std::string, std::string> patient_of;
    for (const auto& e : ds.manifest().entries) patient_of[e.record_id] = e.patient_id.empty() ? e.record_id : e.patient_id;
    patients->clear();
    for (const auto& r : all.record_ids) patients->push_back(patient_of.count(r) ? patient_of[r] : r);
  }
  return all;
}

inline bool is_terminal(const std::ostream& out) { return &out == &std::cout && ::isatty(1) != 0; }

/// What `ecgssl finetune` trains, decided before the backend is chosen.
struct finetune_job {
  pipeline::finetune_model_options model;
  const io::checkpoint* pretrained = nullptr;  ///< null: random initialisation
  pipeline::finetune_options training;
  const pipeline::finetune_split* split = nullptr;
  pipeline::finetune_checkpoint_info info;
  std::string out_path;
};

/// Builds the model on `Backend`, fine-tunes it with a progress bar and a line per epoch, and
/// writes the kept epoch to job.out_path.
template <class Backend>
int fine_tune(const finetune_job& job, std::ostream& out) {
  const auto& mo = job.model;
  pipeline::finetune_model<float, Backend> model(mo, job.training.seed);
  if (job.pretrained != nullptr) model.load_pretrained(*job.pretrained);
  pipeline::finetuner<float, Backend> trainer(model, job.training);
  pipeline::progress_bar bar(out, std::string("finetune ") + pipeline::task_name(mo.task), is_terminal(out));
  trainer.on_step = [&](const pipeline::step_record& r) { bar.on_step(r); };
  const char* metric = mo.task == pipeline::finetune_task::arrhythmia ? "challenge_score" : "top1";
  trainer.on_epoch = [&](const pipeline::epoch_record& r) {
    if (is_terminal(out)) out << "\n";
    out << "epoch " << r.epoch << "/" << job.training.epochs << "  train loss " << fixed4(r.train_loss) << "  valid "
        << metric << " " << fixed4(r.valid_metric) << (r.best ? "  (best)" : "") << "\n"
        << std::flush;
  };
  const pipeline::segment_set* valid = job.split->valid.size() > 0 ? &job.split->valid : nullptr;
  if (valid == nullptr) out << "no validation records: the last epoch is kept\n";
  trainer.fit(job.split->train, valid);
  bar.on_end();
  pipeline::save_finetuned(job.out_path, model, job.info);
  out << "saved " << job.out_path;
  if (valid != nullptr) out << " (best valid " << metric << " " << fixed4(trainer.best_metric()) << ")";
  out << "\n";
  return 0;
}

#if defined(ECGSSL_CLI_WITH_CUDA)
/// fine_tune<cuda>, defined in the CUDA translation unit of the command (examples/ecgssl_cli_cuda.cu).
int finetune_on_cuda(const finetune_job& job, std::ostream& out);
#endif

}  // namespace detail

/// `ecgssl finetune`; see the file comment.
inline int run_finetune(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{"fine-tune an encoder for arrhythmia classification or patient identification (spec 6)",
               "ecgssl finetune"};
  std::string task_text = "arrhythmia", checkpoint, config = "tiny", data, leads_text = "12", out_path;
  bool random_init = false, linear_probe = false;
  std::size_t epochs = 10, batch = 16, patience = 0;
  std::uint64_t seed = 1;
  double valid_fraction = 0.1, lr = 0;
  app.add_option("--task", task_text, "arrhythmia (26 Challenge classes) or identification (ArcFace)")
      ->check(CLI::IsMember({"arrhythmia", "identification"}));
  auto* ck_opt = app.add_option("--checkpoint", checkpoint, "pre-trained checkpoint (ecgssl pretrain)");
  auto* ri_opt = app.add_flag("--random-init", random_init, "random initialisation, extractor trainable (baseline)");
  ck_opt->excludes(ri_opt);
  app.add_option("--config", config, "encoder for --random-init: tiny, small, base or a JSON file")->needs(ri_opt);
  app.add_option("--data", data, "folder of WFDB records or a manifest .csv")->required();
  app.add_option("--leads", leads_text, "lead set: 12, 6, 4, 3, 2, 1 or names such as I,II,V2 (zero fill)");
  app.add_option("--epochs", epochs, "maximum epochs")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", batch, "segments per update (the reference: 128)")->check(CLI::PositiveNumber);
  app.add_option("--patience", patience, "stop after this many epochs without a better validation metric "
                                         "(default 30 arrhythmia, 20 identification)");
  app.add_option("--lr", lr, "learning rate (default 5e-5 arrhythmia, peak 3e-5 identification)");
  app.add_option("--seed", seed, "seed of the split, initialisation, order and dropout");
  app.add_option("--valid-fraction", valid_fraction, "records in each of valid and test (arrhythmia); held-out "
                                                      "identities (identification)");
  app.add_flag("--linear-probe", linear_probe, "train the head only (frozen encoder)");
  app.add_option("--out", out_path, "where to write the fine-tuned checkpoint")->required();
  std::string device = "host";
  detail::add_device_option(app, device);
  return detail::run_cli11(app, args, out, err, [&]() -> int {
  const auto where = detail::parse_device(device);
  if (checkpoint.empty() && !random_init) {
    err << "ecgssl finetune: give --checkpoint CK (pre-trained) or --random-init\n";
    return 2;
  }

  pipeline::finetune_model_options mo;
  mo.task = pipeline::parse_task(task_text);
  mo.pretrained = !random_init;
  mo.linear_probe = linear_probe;
  std::optional<io::checkpoint> pre;
  if (random_init) {
    mo.encoder = pipeline::encoder_config::resolve(config);
  } else {
    pre = io::checkpoint::load(checkpoint);
    mo.encoder = pipeline::pretrained_encoder_options(*pre, checkpoint);
  }
  mo.encoder = pipeline::finetuning_encoder_options(mo.encoder, mo.pretrained);
  const io::lead_set leads = io::lead_set::parse(leads_text, at_field("--leads"));

  std::vector<std::string> patients;
  const auto all = detail::load_segments(data, &patients);
  const auto split = pipeline::split_segments(all, mo.task, valid_fraction, seed, patients);
  if (split.train.size() == 0) throw data_error(in_file(data), "the training part is empty", "more records");
  if (mo.task == pipeline::finetune_task::identification) mo.classes = split.train_identities;
  out << "data: " << all.size() << " segments; train " << split.train.size() << ", valid " << split.valid.size()
      << (mo.task == pipeline::finetune_task::arrhythmia ? ", test " + std::to_string(split.test.size()) : std::string())
      << " segments" << (mo.task == pipeline::finetune_task::identification
                             ? " (" + std::to_string(mo.classes) + " training identities)" : std::string())
      << "\n";

  detail::finetune_job job;
  job.model = mo;
  job.pretrained = pre ? &*pre : nullptr;
  job.training.epochs = epochs;
  job.training.batch_size = batch;
  job.training.patience = patience > 0 ? patience : (mo.task == pipeline::finetune_task::arrhythmia ? 30 : 20);
  job.training.seed = seed;
  if (lr > 0) job.training.learning_rate = lr;
  job.training.leads = leads;
  job.split = &split;
  job.info.model = mo;
  job.info.leads = leads_text;
  job.info.split_seed = seed;
  job.info.valid_fraction = valid_fraction;
  job.out_path = out_path;
#if defined(ECGSSL_CLI_WITH_CUDA)
  if (where == detail::compute_device::cuda) return detail::finetune_on_cuda(job, out);
#else
  (void)where;  // parse_device refused cuda: this binary has no GPU pipelines
#endif
  return detail::fine_tune<host>(job, out);
  });
}

}  // namespace ecgssl::cli

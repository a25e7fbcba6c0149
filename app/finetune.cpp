/// \file finetune.cpp
/// `ecgssl finetune --task arrhythmia|identification|superclass (--checkpoint CK | --random-init
///  [--config C]) --data DIR_OR_MANIFEST [--leads LIST] [--epochs N] [--seed S] --out CK2 [...]`:
/// fine-tunes a pre-trained encoder (or a randomly initialised one) for a task of spec §6, or
/// PTB-XL's diagnostic superclasses (from a manifest's superclasses column; records without one
/// are left out), on the training part of the data (split by record, or by the manifest's folds
/// with --split folds: pipeline/finetuning/finetune_checkpoint.hpp), validates each epoch on the
/// validation part (Challenge score, macro AUROC or top-1 identification accuracy), keeps
/// the best epoch (early stopping with --patience) and writes it to --out. Prints a progress bar
/// and one line of validation metrics per epoch. `--device cuda` (an ecgssl built with CUDA)
/// trains on the GPU. Under mpirun/srun (a build with MPI) the ranks train data-parallel on the
/// host: each takes --batch-size x --update-freq segments of every update
/// (pipeline/finetuning/finetuner.hpp), rank 0 validates and writes --out.

#include <ecgssl/core/error.hpp>
#include <ecgssl/data/preprocessing.hpp>
#include <ecgssl/io/checkpoint.hpp>
#include <ecgssl/io/lead_set.hpp>
#include <ecgssl/io/manifest.hpp>
#include <ecgssl/io/ptbxl_database.hpp>
#include <ecgssl/model/encoder_config.hpp>
#include <ecgssl/model/memory_estimate.hpp>
#include <ecgssl/pipeline/finetuning/finetune_checkpoint.hpp>
#include <ecgssl/pipeline/finetuning/finetuner.hpp>
#include <ecgssl/pipeline/embedding/pretrained_encoder.hpp>
#include <ecgssl/pipeline/logs/progress_bar.hpp>
#include <ecgssl/data/wfdb_dataset.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include <unistd.h>

#include "commands.hpp"
#include "detail/cli11_run.hpp"
#include "detail/device_option.hpp"
#include "detail/precision_option.hpp"
#include "detail/finetune_run.hpp"
#include "detail/format.hpp"
#include "detail/output_target.hpp"
#include "detail/validators.hpp"
#include "detail/world.hpp"

namespace ecgssl::cli {


/// `ecgssl finetune`; see the file comment.
int run_finetune(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{"fine-tune an encoder for arrhythmia classification or patient identification (spec 6)",
               "ecgssl finetune"};
  std::string task_text = "arrhythmia", checkpoint, config = "tiny", data, leads_text = "12", out_path;
  bool random_init = false, linear_probe = false;
  std::size_t epochs = 10, batch = 16, patience = 0, update_freq = 1;
  std::uint64_t seed = 1;
  double valid_fraction = 0.1, lr = 0;
  app.add_option("--task", task_text, "arrhythmia (26 Challenge classes), identification (ArcFace) or superclass "
                                      "(PTB-XL's NORM, MI, STTC, CD, HYP from a manifest by ecgssl manifest --ptbxl-database)")
      ->check(CLI::IsMember({"arrhythmia", "identification", "superclass"}));
  auto* ck_opt = app.add_option("--checkpoint", checkpoint, "pre-trained checkpoint (ecgssl pretrain)");
  auto* ri_opt = app.add_flag("--random-init", random_init, "random initialisation, extractor trainable (baseline)");
  ck_opt->excludes(ri_opt);
  app.add_option("--config", config, "encoder for --random-init: tiny, small, base or a JSON file")->needs(ri_opt);
  app.add_option("--data", data, "folder of WFDB records or a manifest .csv")->required();
  app.add_option("--leads", leads_text, "lead set: 12, 6, 4, 3, 2, 1 or names such as I,II,V2 (zero fill)");
  app.add_option("--epochs", epochs, "maximum epochs")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", batch, "segments per micro-batch (the reference: 128 per update)")->check(CLI::PositiveNumber);
  app.add_option("--update-freq", update_freq, "micro-batches per update (gradient accumulation; under mpirun, per rank)")
      ->check(CLI::PositiveNumber);
  app.add_option("--patience", patience, "stop after this many epochs without a better validation metric "
                                         "(default 30 arrhythmia, 20 identification)");
  app.add_option("--lr", lr, "learning rate (default 5e-5 arrhythmia, peak 3e-5 identification)")
      ->check(detail::finite_positive());
  app.add_option("--seed", seed, "seed of the split, initialisation, order and dropout")->check(detail::unsigned_integer());
  app.add_option("--valid-fraction", valid_fraction, "records in each of valid and test (arrhythmia); held-out "
                                                      "identities (identification)")
      ->check(detail::finite_in(0.0, 0.5));
  std::string split_text = "records";
  int valid_fold = 9, test_fold = 10;
  app.add_option("--split", split_text, "records: a seeded split by record (--valid-fraction); folds: the data's "
                                        "manifest folds (PTB-XL's strat_fold), --valid-fold and --test-fold held out")
      ->check(CLI::IsMember({"records", "folds"}))->capture_default_str();
  const CLI::Range fold_range(1, io::manifest::max_fold);
  app.add_option("--valid-fold", valid_fold, "validation fold of --split folds")->capture_default_str()->check(fold_range);
  app.add_option("--test-fold", test_fold, "test fold of --split folds")->capture_default_str()->check(fold_range);
  app.add_flag("--linear-probe", linear_probe, "train the head only (frozen encoder)");
  std::string preprocess;
  app.add_option("--preprocess", preprocess, "none or bandpass,zscore (default: the pre-trained checkpoint's; none with --random-init); "
                                              "recorded in the fine-tuned checkpoint");
  app.add_option("--out", out_path, "where to write the fine-tuned checkpoint")->required();
  std::string device = "host", precision_text = "fp32";
  detail::add_device_option(app, device);
  detail::add_precision_option(app, precision_text);
  return detail::run_cli11(app, args, out, err, [&]() -> int {
  const auto where = detail::parse_device(device);
  const precision mode = detail::parse_precision_option(precision_text, where);
  const precision_scope products(mode);
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
    mo.encoder = model::encoder_config::resolve(config);
  } else {
    pre = io::checkpoint::load(checkpoint);
    mo.encoder = pipeline::pretrained_encoder_options(*pre, checkpoint);
  }
  mo.encoder = pipeline::finetuning_encoder_options(mo.encoder, mo.pretrained);
  model::require_training_fits(mo.encoder, batch, "--batch-size", 0);  // before any data is read
  // Fine-tuning data go through what the encoder was pre-trained on; a different choice is refused.
  const data::preprocessing prep =
      data::preprocessing_for(pre ? data::recorded_preprocessing(*pre, checkpoint) : std::nullopt, preprocess, checkpoint);
  const io::lead_set leads = io::lead_set::parse(leads_text, at_field("--leads"));

  const bool by_folds = split_text == "folds";
  if (by_folds && !pipeline::is_multilabel(mo.task)) {
    throw config_error(at_field("--split"), "folds with --task " + task_text, "--split records (identities are held out, not folds)");
  }
  if (by_folds && valid_fold == test_fold) {
    throw config_error(at_field("--test-fold"), std::to_string(test_fold), "a fold other than --valid-fold");
  }
  std::vector<std::string> patients;
  std::vector<int> folds;
  // --out is checked and locked before the slow part; in a data-parallel run rank 0 writes it,
  // and no rank goes on before it has (a refusal there aborts every rank: main).
  auto& world = detail::world();
  std::optional<detail::output_lock> lock;
  if (world.rank() == 0) {
    detail::check_output_file(out_path, "--out");  // claim_output, in place: the lock does not move
    lock.emplace(out_path, "--out");
  }
  world.barrier();
  const bool superclass = mo.task == pipeline::finetune_task::superclass;
  auto all = data::load_segment_set(data, &patients, prep, &folds,
                                    superclass ? data::label_space::ptbxl_superclasses : data::label_space::challenge);
  if (superclass) {
    mo.classes = io::ptbxl_superclasses.size();
    if (const auto dropped = pipeline::keep_labelled(all, patients, folds); dropped > 0) {
      out << "left out " << dropped << " records without a diagnostic superclass\n";
    }
    if (all.size() == 0) throw data_error(in_file(data), "no record has a diagnostic superclass", "labelled PTB-XL records");
  }
  const auto split = by_folds ? pipeline::split_by_folds(all, folds, valid_fold, test_fold, data)
                              : pipeline::split_segments(all, mo.task, valid_fraction, seed, patients);
  if (split.train.size() == 0) throw data_error(in_file(data), "the training part is empty", "more records");
  if (mo.task == pipeline::finetune_task::identification) mo.classes = split.train_identities;
  out << "data: " << all.size() << " segments; train " << split.train.size() << ", valid " << split.valid.size()
      << (pipeline::is_multilabel(mo.task) ? ", test " + std::to_string(split.test.size()) : std::string())
      << " segments" << (mo.task == pipeline::finetune_task::identification
                             ? " (" + std::to_string(mo.classes) + " training identities)" : std::string())
      << "\n";

  detail::finetune_job job;
  job.model = mo;
  job.pretrained = pre ? &*pre : nullptr;
  job.training.epochs = epochs;
  job.training.batch_size = batch;
  job.training.update_freq = update_freq;
  job.training.communicator = &world;
  job.training.patience = patience > 0 ? patience : (pipeline::is_multilabel(mo.task) ? 30 : 20);
  job.training.seed = seed;
  if (lr > 0) job.training.learning_rate = lr;
  job.training.leads = leads;
  job.training.precision = mode;
  job.split = &split;
  job.info.model = mo;
  job.info.leads = leads_text;
  job.info.preprocess = data::preprocessing_name(prep);
  job.info.split_seed = seed;
  job.info.valid_fraction = valid_fraction;
  job.info.split_by_folds = by_folds;
  job.info.valid_fold = valid_fold;
  job.info.test_fold = test_fold;
  job.info.precision = mode;
  job.out_path = out_path;
  if (world.size() > 1) {
    out << "data parallel: " << world.size() << " ranks x " << batch << " segments x " << update_freq
        << " micro-batches per update, gradients summed in one blocking sum after backward; rank 0 validates\n";
  }
#if defined(ECGSSL_CLI_WITH_CUDA)
  if (where == detail::compute_device::cuda) return detail::finetune_on_cuda(job, out);
#else
  (void)where;  // parse_device refused cuda: this binary has no GPU pipelines
#endif
  return detail::fine_tune<host>(job, out);
  });
}

}  // namespace ecgssl::cli

#pragma once
/// \file finetune_run.hpp
/// The body of `ecgssl finetune` on one backend: shared by the host translation unit
/// (app/finetune.cpp) and the CUDA one (app/cuda_pipelines.cu).

#include <unistd.h>

#include <iostream>
#include <ostream>
#include <string>

#include <ecgssl/io/checkpoint.hpp>
#include <ecgssl/pipeline/finetuning/finetune_checkpoint.hpp>
#include <ecgssl/pipeline/finetuning/finetuner.hpp>
#include <ecgssl/pipeline/logs/progress_bar.hpp>

#include "format.hpp"

namespace ecgssl::cli {

namespace detail {

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
  const char* metric = pipeline::task_metric_name(mo.task);
  trainer.on_epoch = [&](const pipeline::epoch_record& r) {
    if (is_terminal(out)) out << "\n";
    out << "epoch " << r.epoch << "/" << job.training.epochs << "  train loss " << fixed4(r.train_loss) << "  valid "
        << metric << " " << fixed4(r.valid_metric) << (r.best ? "  (best)" : "") << "\n"
        << std::flush;
  };
  const data::segment_set* valid = job.split->valid.size() > 0 ? &job.split->valid : nullptr;
  if (valid == nullptr) out << "no validation records: the last epoch is kept\n";
  trainer.fit(job.split->train, valid);
  bar.on_end();
  // Every rank holds the kept epoch's values; rank 0 writes them, the others wait for the file.
  auto* ranks = job.training.communicator;
  if (ranks == nullptr || ranks->rank() == 0) pipeline::save_finetuned(job.out_path, model, job.info);
  if (ranks != nullptr) ranks->barrier();
  out << "saved " << job.out_path;
  if (valid != nullptr) out << " (best valid " << metric << " " << fixed4(trainer.best_metric()) << ")";
  out << "\n";
  return 0;
}

#if defined(ECGSSL_CLI_WITH_CUDA)
/// fine_tune<cuda>, defined in the CUDA translation unit of the command (app/cuda_pipelines.cu).
int finetune_on_cuda(const finetune_job& job, std::ostream& out);
#endif

}  // namespace detail

}  // namespace ecgssl::cli

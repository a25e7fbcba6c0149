#pragma once
/// \file pretrain_run.hpp
/// The body of `ecgssl pretrain` on one backend: shared by the host translation unit
/// (app/pretrain.cpp) and the CUDA one (app/cuda_pipelines.cu).

#include <unistd.h>

#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include <ecgssl/core/precision.hpp>
#include <ecgssl/data/wfdb_dataset.hpp>
#include <ecgssl/model/configs.hpp>
#include <ecgssl/pipeline/logs/csv_log.hpp>
#include <ecgssl/pipeline/logs/jsonl_log.hpp>
#include <ecgssl/pipeline/logs/loss_curve_plot.hpp>
#include <ecgssl/pipeline/logs/progress_bar.hpp>
#include <ecgssl/pipeline/pretraining/pretrain_method.hpp>
#include <ecgssl/pipeline/pretraining/pretrainer.hpp>

#include "world.hpp"

namespace ecgssl::cli {

/// Settings of one `ecgssl pretrain` run.
struct pretrain_settings {
  std::string data, config = "tiny", method = "w2v_cmsc_rlm", out, resume, preprocess = "none";
  std::int64_t steps = 100;
  std::size_t batch_pairs = 8, update_freq = 1, loader_threads = 1;
  std::uint64_t seed = 1;
  int threads = 0;
  double learning_rate = 5e-5;
  std::int64_t checkpoint_every = 0;
  std::string log_csv, log_jsonl, plot_svg;
  ecgssl::precision precision = ecgssl::precision::fp32;  ///< --precision
  double bucket_mb = 25.0;                                 ///< --bucket-mb
};

namespace detail {

/// Optional callbacks, each a no-op when its file is not asked for.
template <class Callback>
struct optional_callback {
  std::optional<Callback> c;
  void on_step(const pipeline::step_record& r) { if (c) c->on_step(r); }
  void on_end() { if (c) c->on_end(); }
};

template <class Objective, class Source>
int run_pretraining(const pretrain_settings& s, const model::ecg_transformer_options& options,
                    std::shared_ptr<const Source> source, std::size_t items_per_batch, std::ostream& out) {
  Objective objective(options);
  pipeline::pretrainer_options po;
  po.batch_items = items_per_batch;
  po.update_freq = s.update_freq;
  po.seed = s.seed;
  po.learning_rate = s.learning_rate;
  po.loader_threads = s.loader_threads;
  po.method = s.method;
  po.preprocess = s.preprocess;
  po.precision = s.precision;
  po.bucket_mb = s.bucket_mb;
  po.communicator = &world();
  pipeline::pretrainer<Objective, Source> trainer(objective, std::move(source), po);
  if (!s.resume.empty()) {
    trainer.resume(s.resume);
    out << "resumed from " << s.resume << " at update " << trainer.step() << "\n";
  }
  const bool interactive = &out == &std::cout && ::isatty(1) != 0;
  pipeline::progress_bar bar(out, "pretrain " + s.method, interactive);
  optional_callback<pipeline::csv_log> csv;
  optional_callback<pipeline::jsonl_log> jsonl;
  optional_callback<pipeline::loss_curve_plot> plot;
  const bool append = !s.resume.empty();
  if (!s.log_csv.empty()) csv.c.emplace(s.log_csv, append);
  if (!s.log_jsonl.empty()) jsonl.c.emplace(s.log_jsonl, append);
  if (!s.plot_svg.empty()) plot.c.emplace(s.plot_svg, "ecgssl pretrain " + s.method);
  const auto history = trainer.run(s.steps, s.out, s.checkpoint_every, bar, csv, jsonl, plot);
  out << "pretrain: method " << s.method << ", " << trainer.parameters().size() << " parameters, "
      << history.size() << " updates this run (" << trainer.step() << " in all)";
  if (!history.empty()) {
    out << ", loss " << history.front().loss << " -> " << history.back().loss << ", "
        << pipeline::format_duration(history.back().elapsed_seconds);
  }
  out << "\ncheckpoint: " << s.out << "\n";
  return 0;
}

/// Pre-trains with `s.method` on `Config` (pipeline::with_pretrain_method picks the objective
/// and the items it trains on).
template <class Config>
int dispatch_pretraining(const pretrain_settings& s, const model::ecg_transformer_options& options,
                         const data::wfdb_dataset& data, std::ostream& out) {
  return pipeline::with_pretrain_method<Config>(
      pipeline::parse_pretrain_method(s.method), data, s.batch_pairs,
      [&]<class Objective, class Source>(std::shared_ptr<const Source> source, std::size_t items_per_batch) {
        return run_pretraining<Objective, Source>(s, options, std::move(source), items_per_batch, out);
      });
}

#if defined(ECGSSL_CLI_WITH_CUDA)
/// Pre-training on the GPU: dispatch_pretraining with the cuda backend, defined in the CUDA
/// translation unit of the command (app/cuda_pipelines.cu).
int pretrain_on_cuda(const pretrain_settings& s, const model::ecg_transformer_options& options,
                     const data::wfdb_dataset& data, std::ostream& out);
#endif

}  // namespace detail

}  // namespace ecgssl::cli

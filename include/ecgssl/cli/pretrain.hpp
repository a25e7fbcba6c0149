#pragma once
/// \file pretrain.hpp
/// `ecgssl pretrain`: pre-trains an encoder on a folder of WFDB records (or a manifest) with one
/// of the paper's methods (spec §1, §4, §5), shows a progress bar, writes the checkpoint (and
/// optionally CSV / JSON-lines logs and an SVG loss curve), and prints a summary.
///
///   ecgssl pretrain --data DIR_OR_MANIFEST --config tiny|small|base|FILE.json
///                   --method w2v_cmsc_rlm|w2v|w2v_rlm|cmsc|cmsc_rlm|w2v_cmsc|w2v_cmsc_physio|simclr_rlm|3kg
///                   --steps N --batch-pairs P --seed S --out CHECKPOINT [--resume CHECKPOINT]
///                   [--threads T] [--update-freq K] [--lr LR] [--checkpoint-every N]
///                   [--log-csv F] [--log-jsonl F] [--plot-svg F] [--device host|cuda]
/// `--device cuda` (an ecgssl built with CUDA) trains every method on the GPU.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/threading.hpp"
#include "../model/configs.hpp"
#include "../pipeline/csv_log.hpp"
#include "../pipeline/encoder_config.hpp"
#include "../pipeline/jsonl_log.hpp"
#include "../pipeline/loss_curve_plot.hpp"
#include "../pipeline/pretrain_method.hpp"
#include "../pipeline/pretrainer.hpp"
#include "../pipeline/progress_bar.hpp"
#include "../pipeline/two_view_source.hpp"
#include "../pipeline/wfdb_dataset.hpp"
#include "detail/cli11_run.hpp"
#include "detail/device_option.hpp"

namespace ecgssl::cli {

/// Settings of one `ecgssl pretrain` run.
struct pretrain_settings {
  std::string data, config = "tiny", method = "w2v_cmsc_rlm", out, resume;
  std::int64_t steps = 100;
  std::size_t batch_pairs = 8, update_freq = 1, loader_threads = 1;
  std::uint64_t seed = 1;
  int threads = 0;
  double learning_rate = 5e-5;
  std::int64_t checkpoint_every = 0;
  std::string log_csv, log_jsonl, plot_svg;
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

template <class Config>
int dispatch_pretraining(const pretrain_settings& s, const model::ecg_transformer_options& options,
                         const pipeline::wfdb_dataset& data, std::ostream& out) {
  using namespace pipeline;
  using pairs_t = data::paired_source<data::record_source>;
  using views_t = two_view_source<data::record_source>;
  const std::size_t p = s.batch_pairs;
  switch (parse_pretrain_method(s.method)) {  // on every backend
    case pretrain_method::w2v_cmsc_rlm: return run_pretraining<w2v_cmsc_rlm_objective<Config>, pairs_t>(s, options, data.pairs(), p, out);
    case pretrain_method::w2v_cmsc: return run_pretraining<w2v_cmsc_objective<Config>, pairs_t>(s, options, data.pairs(), p, out);
    case pretrain_method::w2v_cmsc_physio: return run_pretraining<w2v_cmsc_physio_objective<Config>, pairs_t>(s, options, data.pairs(), p, out);
    // W2V alone trains on single segments: 2P of them per micro-batch, as many as P pairs hold
    case pretrain_method::w2v: return run_pretraining<w2v_objective<Config>, data::record_source>(s, options, data.segments(), 2 * p, out);
    case pretrain_method::w2v_rlm: return run_pretraining<w2v_rlm_objective<Config>, data::record_source>(s, options, data.segments(), 2 * p, out);
    case pretrain_method::cmsc: return run_pretraining<cmsc_objective<Config>, pairs_t>(s, options, data.pairs(), p, out);
    case pretrain_method::cmsc_rlm: return run_pretraining<cmsc_rlm_objective<Config>, pairs_t>(s, options, data.pairs(), p, out);
    case pretrain_method::simclr_rlm:
      return run_pretraining<simclr_rlm_objective<Config>, views_t>(s, options, std::make_shared<const views_t>(data.segments()), p, out);
    // 3KG: two augmented views of P segments per micro-batch (2P segments, as P pairs)
    case pretrain_method::three_kg:
      return run_pretraining<three_kg_objective<Config>, views_t>(s, options, std::make_shared<const views_t>(data.segments()), p, out);
  }
  return 1;
}

#if defined(ECGSSL_CLI_WITH_CUDA)
/// Pre-training on the GPU: dispatch_pretraining with the cuda backend, defined in the CUDA
/// translation unit of the command (examples/ecgssl_cli_cuda.cu).
int pretrain_on_cuda(const pretrain_settings& s, const model::ecg_transformer_options& options,
                     const pipeline::wfdb_dataset& data, std::ostream& out);
#endif

}  // namespace detail

/// Runs `pretrain` on `args` (the words after "pretrain"): 0 on success, 2 on a usage error,
/// 1 when the data, configuration, checkpoint or a write fails (one line on `err`).
inline int run_pretrain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  pretrain_settings s;
  CLI::App app{"Pre-train an ECG encoder (W2V+CMSC+RLM and baselines)", "ecgssl pretrain"};
  app.add_option("--data", s.data, "folder of WFDB records (scanned recursively) or manifest .csv")->required();
  app.add_option("--config", s.config, "tiny, small, base or a JSON file")->capture_default_str();
  app.add_option("--method", s.method, std::string(pipeline::pretrain_method_names))->capture_default_str();
  app.add_option("--steps", s.steps, "optimizer updates in all (a resumed run counts the earlier ones)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch-pairs", s.batch_pairs, "CMSC pairs per micro-batch (paper: 64)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--update-freq", s.update_freq, "micro-batches per update (paper: 2 on 4 GPUs)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", s.seed, "random seed")->capture_default_str();
  app.add_option("--lr", s.learning_rate, "fixed learning rate (paper: 5e-5)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--out", s.out, "checkpoint to write (.safetensors)")->required();
  app.add_option("--resume", s.resume, "continue from this checkpoint (same settings)");
  app.add_option("--threads", s.threads, "OpenMP threads (0 = default)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--loader-threads", s.loader_threads, "background batch builders")->capture_default_str();
  app.add_option("--checkpoint-every", s.checkpoint_every, "also write --out every N updates (0 = only at the end)")->capture_default_str();
  app.add_option("--log-csv", s.log_csv, "CSV log, one row per update");
  app.add_option("--log-jsonl", s.log_jsonl, "JSON-lines log, one object per update");
  app.add_option("--plot-svg", s.plot_svg, "loss curve as SVG");
  std::string device = "host";
  detail::add_device_option(app, device);
  return detail::run_cli11(app, args, out, err, [&] {
    (void)pipeline::parse_pretrain_method(s.method);  // fail before reading any data
    const auto where = detail::parse_device(device);
    const auto options = pipeline::encoder_config::resolve(s.config);
    if (s.threads > 0) set_threads(s.threads);
    const pipeline::wfdb_dataset data(s.data);
#if defined(ECGSSL_CLI_WITH_CUDA)
    if (where == detail::compute_device::cuda) return detail::pretrain_on_cuda(s, options, data, out);
#endif
    (void)where;
    return detail::dispatch_pretraining<model::tiny_config<float>>(s, options, data, out);
  });
}

}  // namespace ecgssl::cli

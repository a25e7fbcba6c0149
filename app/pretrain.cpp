/// \file pretrain.cpp
/// `ecgssl pretrain`: pre-trains an encoder on a folder of WFDB records (or a manifest) with one
/// of the paper's methods (spec §1, §4, §5), shows a progress bar, writes the checkpoint (and
/// optionally CSV / JSON-lines logs and an SVG loss curve), and prints a summary.
///
///   ecgssl pretrain --data DIR_OR_MANIFEST --config tiny|small|base|FILE.json
///                   --method w2v_cmsc_rlm|w2v|w2v_rlm|cmsc|cmsc_rlm|w2v_cmsc|w2v_cmsc_physio|simclr_rlm|3kg
///                   --steps N --batch-pairs P --seed S --out CHECKPOINT [--resume CHECKPOINT]
///                   [--threads T] [--update-freq K] [--lr LR] [--checkpoint-every N] [--bucket-mb MB]
///                   [--log-csv F] [--log-jsonl F] [--plot-svg F] [--device host|cuda]
/// `--device cuda` (an ecgssl built with CUDA) trains every method on the GPU.

#include <string>
#include <vector>

#include <ecgssl/core/threading.hpp>
#include <ecgssl/model/encoder_config.hpp>
#include <ecgssl/model/memory_estimate.hpp>

#include "commands.hpp"
#include "detail/cli11_run.hpp"
#include "detail/device_option.hpp"
#include "detail/precision_option.hpp"
#include "detail/output_target.hpp"
#include "detail/pretrain_run.hpp"
#include "detail/skip_summary.hpp"
#include "detail/validators.hpp"
#include "detail/world.hpp"

namespace ecgssl::cli {

/// Runs `pretrain` on `args` (the words after "pretrain"): 0 on success, 2 on a usage error,
/// 1 when the data, configuration, checkpoint or a write fails (one line on `err`).
int run_pretrain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  pretrain_settings s;
  CLI::App app{"Pre-train an ECG encoder (W2V+CMSC+RLM and baselines)", "ecgssl pretrain"};
  app.add_option("--data", s.data, "folder of WFDB records (scanned recursively) or manifest .csv")->required();
  app.add_option("--config", s.config, "tiny, small, base or a JSON file")->capture_default_str();
  app.add_option("--method", s.method, std::string(pipeline::pretrain_method_names))->capture_default_str();
  app.add_option("--preprocess", s.preprocess, "none (millivolts, the paper) or bandpass,zscore (0.5-40 Hz band-pass, per-lead "
                                               "z-score of each record); recorded in the checkpoint")
      ->capture_default_str();
  app.add_option("--steps", s.steps, "optimizer updates in all (a resumed run counts the earlier ones)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch-pairs", s.batch_pairs, "CMSC pairs per micro-batch (paper: 64)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--update-freq", s.update_freq, "micro-batches per update (paper: 2 on 4 GPUs)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", s.seed, "random seed")->capture_default_str()->check(detail::unsigned_integer());
  app.add_option("--bucket-mb", s.bucket_mb,
                 "under mpirun: sum the gradients over the ranks in buckets of this many MiB, each started while "
                 "backward runs (0 = one blocking sum after backward)")
      ->capture_default_str()
      ->check(detail::finite_in(0.0, 1e6));
  app.add_option("--lr", s.learning_rate, "fixed learning rate (paper: 5e-5)")->capture_default_str()->check(detail::finite_positive());
  app.add_option("--out", s.out, "checkpoint to write (.safetensors)")->required();
  app.add_option("--resume", s.resume, "continue from this checkpoint (same settings)");
  app.add_option("--threads", s.threads, "OpenMP threads (0 = default)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--loader-threads", s.loader_threads, "background batch builders")->capture_default_str()->check(detail::unsigned_integer());
  app.add_option("--checkpoint-every", s.checkpoint_every, "also write --out every N updates (0 = only at the end)")->capture_default_str()->check(detail::unsigned_integer());
  app.add_option("--log-csv", s.log_csv, "CSV log, one row per update");
  app.add_option("--log-jsonl", s.log_jsonl, "JSON-lines log, one object per update");
  app.add_option("--plot-svg", s.plot_svg, "loss curve as SVG");
  std::string device = "host", precision_text = "fp32";
  detail::add_device_option(app, device);
  detail::add_precision_option(app, precision_text);
  return detail::run_cli11(app, args, out, err, [&] {
    const auto method = pipeline::parse_pretrain_method(s.method);  // fail before reading any data
    const auto where = detail::parse_device(device);
    s.precision = detail::parse_precision_option(precision_text, where);
    const auto options = model::encoder_config::resolve(s.config);
    {
      // Refuse a batch this machine cannot hold before the data is read (a lower bound:
      // model/memory_estimate.hpp). Every method but W2V alone trains on two views per item.
      const bool w2v_only = method == pipeline::pretrain_method::w2v || method == pipeline::pretrain_method::w2v_rlm;
      const bool contrastive_heads = s.method.rfind("w2v", 0) == 0;
      model::require_training_fits(options, s.batch_pairs * (w2v_only ? 1 : 2), "--batch-pairs", contrastive_heads ? 100 : 0);
    }
    if (s.threads > 0) set_threads(s.threads);
    // The outputs are checked (and --out locked) before the data is read: a run must not fail
    // only at its final save. In a data-parallel run rank 0 writes them all.
    auto& world = detail::world();
    std::optional<detail::output_lock> lock;
    if (world.rank() == 0) {
      detail::check_output_file(s.out, "--out");  // claim_output, in place: the lock does not move
      lock.emplace(s.out, "--out");
      for (const auto& [path, option] : {std::pair<const std::string&, const char*>{s.log_csv, "--log-csv"},
                                         {s.log_jsonl, "--log-jsonl"}, {s.plot_svg, "--plot-svg"}}) {
        if (!path.empty()) detail::check_output_file(path, option);
      }
    } else {
      s.log_csv.clear();
      s.log_jsonl.clear();
      s.plot_svg.clear();
    }
    // No rank trains before rank 0 has claimed the outputs (a refusal there aborts every rank: main).
    world.barrier();
    if (world.size() > 1) {
      out << "data parallel: " << world.size() << " ranks x " << s.batch_pairs << " items x " << s.update_freq
          << " micro-batches per update, gradients summed ";
      if (s.bucket_mb > 0) {
        out << "in " << s.bucket_mb << " MiB buckets during backward\n";
      } else {
        out << "in one blocking sum after backward\n";
      }
    }
    const data::wfdb_dataset data(s.data, 2500, 500.0, data::parse_preprocessing(s.preprocess, at_field("--preprocess")));
    // Say what was left out and why, instead of skipping records without a word.
    const std::size_t total = data.manifest().entries.size(), kept = data.manifest().usable_indices().size();
    out << "data: " << total << " records, " << kept << " used, " << (total - kept) << " skipped\n";
    detail::print_skipped(out, data.manifest());
#if defined(ECGSSL_CLI_WITH_CUDA)
    if (where == detail::compute_device::cuda) return detail::pretrain_on_cuda(s, options, data, out);
#endif
    (void)where;
    return detail::dispatch_pretraining<model::tiny_config<float>>(s, options, data, out);
  });
}

}  // namespace ecgssl::cli

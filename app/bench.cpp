/// \file bench.cpp
/// `ecgssl bench`: times complete pre-training updates (W2V+CMSC forward, loss, backward, Adam;
/// spec §4.4, §5) on random [2P, 12, 2500] input after one warm-up update, and eval-mode encoder
/// inference at batch 1 and 32; prints s/step, segments/s, GFLOP/s (analytic count of the
/// multiply-adds of the encoder, training = 3 x forward) and peak RSS.
///
///   ecgssl bench --config tiny|small|base|FILE.json [--batch-pairs P] [--steps N] [--threads T] [--json]
///                [--device host|cuda]
///
/// JSON keys: train_s_per_step, train_segments_per_s, train_gflop_per_s, infer_ms_per_segment_b1,
/// infer_ms_per_segment_b32, peak_rss_mib, threads, config.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <ecgssl/core/philox.hpp>
#include <ecgssl/core/threading.hpp>
#include <ecgssl/model/encoder_config.hpp>
#include <ecgssl/nn/detail/onednn_matmul.hpp>
#include <ecgssl/pipeline/pretraining/benchmark.hpp>

#include "commands.hpp"
#include "detail/cli11_run.hpp"
#include "detail/device_option.hpp"
#include "detail/precision_option.hpp"

namespace ecgssl::cli {

namespace detail {
#if defined(ECGSSL_CLI_WITH_CUDA)
/// pipeline::time_pretraining<cuda>, defined in the CUDA translation unit (app/cuda_pipelines.cu).
pipeline::pretraining_timings time_pretraining_on_cuda(const model::ecg_transformer_options& options,
                                                       const data::batch& b, std::int64_t steps);
#endif
}  // namespace detail

/// Runs `bench` on `args` (the words after "bench"): 0 on success, 2 on a usage error.
int run_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string config = "tiny";
  std::size_t pairs = 4;
  std::int64_t steps = 3;
  int threads = 0;
  bool json = false;
  CLI::App app{"Time pre-training steps and encoder inference", "ecgssl bench"};
  app.add_option("--config", config, "tiny, small, base or a JSON file")->capture_default_str();
  app.add_option("--batch-pairs", pairs, "CMSC pairs per step (2P segments)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--steps", steps, "timed updates after one warm-up")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "OpenMP threads (0 = default)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_flag("--json", json, "one JSON object instead of text");
  std::string device = "host", precision_text = "fp32";
  detail::add_device_option(app, device);
  detail::add_precision_option(app, precision_text);
  return detail::run_cli11(app, args, out, err, [&]() -> int {
    const auto where = detail::parse_device(device);
    const precision mode = detail::parse_precision_option(precision_text, where);
    const precision_scope products(mode);
    (void)where;  // only a build with CUDA has a second device
    const auto options = model::encoder_config::resolve(config);
    if (threads > 0) set_threads(threads);
    constexpr std::size_t length = 2500;
    const std::size_t segments = 2 * pairs;
    const random_stream rng(1, stream_id({static_cast<std::uint64_t>(rng_purpose::user), 77}));
    data::batch b;
    b.signals = tensor<float, 3>::from_shape({segments, options.in_channels, length});
    for (std::size_t i = 0; i < b.signals.size(); ++i) b.signals.data()[i] = static_cast<float>(rng.normal(i));
    b.meta.resize(segments);
    b.items.resize(segments);
    b.kept_leads.assign(segments, 0xfffu);
    for (std::size_t s = 0; s < segments; ++s) {
      b.meta[s].identity = static_cast<std::int64_t>(s / 2);
      b.items[s] = s / 2;
    }

    const pipeline::pretraining_timings timings =
#if defined(ECGSSL_CLI_WITH_CUDA)
        where == detail::compute_device::cuda ? detail::time_pretraining_on_cuda(options, b, steps) :
#endif
                                              pipeline::time_pretraining<host>(options, b, steps);
    const double train_s = timings.train_s_per_step, b1 = timings.infer_ms_b1, b32 = timings.infer_ms_b32;
    const double forward = pipeline::encoder_forward_flops(options, length);
    const double train_gflops = 3.0 * forward * static_cast<double>(segments) / train_s / 1e9;
    const double rss = pipeline::peak_rss_mib();
    if (json) {
      nlohmann::json j;
      j["config"] = config;
      j["threads"] = max_threads();
      j["device"] = device;
      j["batch_pairs"] = pairs;
      j["train_s_per_step"] = train_s;
      j["train_segments_per_s"] = static_cast<double>(segments) / train_s;
      j["train_gflop_per_s"] = train_gflops;
      j["infer_ms_per_segment_b1"] = b1;
      j["infer_ms_per_segment_b32"] = b32;
      j["infer_gflop_per_s_b32"] = forward / (b32 * 1e-3) / 1e9;
      j["peak_rss_mib"] = rss;
      j["train_peak_rss_mib"] = timings.train_peak_rss_mib;
      j["precision"] = std::string(to_string(mode));
      // The ISA oneDNN dispatches to, and what computes the bf16 products on it.
      j["isa"] = nn::detail::onednn_cpu_isa();
      j["bf16_products"] = nn::detail::bf16_product_kernels();
      out << j.dump() << "\n";
    } else {
      out << "bench: config " << config << ", " << timings.parameters << " parameters, " << max_threads()
          << " threads, device " << device << ", precision " << to_string(mode) << "\n"
          << "  train: " << train_s << " s/step, " << static_cast<double>(segments) / train_s << " segments/s, "
          << train_gflops << " GFLOP/s (" << segments << " segments per step)\n"
          << "  inference: " << b1 << " ms/segment at batch 1, " << b32 << " ms/segment at batch 32 ("
          << forward / (b32 * 1e-3) / 1e9 << " GFLOP/s)\n"
          << "  peak RSS: " << rss << " MiB\n";
      if (mode == precision::bf16) out << "  bf16 products: " << nn::detail::bf16_product_kernels() << "\n";
    }
    return 0;
  });
}

}  // namespace ecgssl::cli

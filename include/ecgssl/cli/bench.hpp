#pragma once
/// \file bench.hpp
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

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "../core/threading.hpp"
#include "../optim/adam.hpp"
#include "../optim/fixed_schedule.hpp"
#include "../optim/optimizer.hpp"
#include "../pipeline/encoder_config.hpp"
#include "../pipeline/pretrain_method.hpp"
#include "../pipeline/training_backend.hpp"
#include "detail/cli11_run.hpp"
#include "detail/device_option.hpp"

namespace ecgssl::cli {

namespace detail {

/// Floating-point operations (2 per multiply-add) of one eval forward of one segment of
/// `samples` samples: conv extractor, post_extract_proj, positional conv, transformer layers.
inline double encoder_forward_flops(const model::ecg_transformer_options& o, std::size_t samples) {
  double flops = 0.0;
  double t = static_cast<double>(samples);
  double in = static_cast<double>(o.in_channels);
  for (std::size_t i = 0; i < o.conv_layers; ++i) {
    t = std::floor((t - static_cast<double>(o.conv_kernel)) / static_cast<double>(o.conv_stride)) + 1.0;
    flops += 2.0 * t * static_cast<double>(o.conv_dim) * in * static_cast<double>(o.conv_kernel);
    in = static_cast<double>(o.conv_dim);
  }
  const double c = static_cast<double>(o.conv_dim), d = static_cast<double>(o.embed_dim), f = static_cast<double>(o.ffn_dim);
  if (o.conv_dim != o.embed_dim) flops += 2.0 * t * c * d;
  flops += 2.0 * t * d * (d / static_cast<double>(o.pos_groups)) * static_cast<double>(o.pos_kernel);
  // per layer: Q, K, V, out projections; scores and weighted sum; two FFN matrices
  flops += static_cast<double>(o.layers) * (2.0 * t * 4.0 * d * d + 2.0 * 2.0 * t * t * d + 2.0 * 2.0 * t * d * f);
  return flops;
}

inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

/// What one bench measured.
struct bench_timings {
  double train_s_per_step = 0;
  double infer_ms_b1 = 0, infer_ms_b32 = 0;  ///< per segment
  std::size_t parameters = 0;
};

/// Times `steps` W2V+CMSC updates on batch `b` after one warm-up (training_backend: the host
/// optimizer, or the device mirror and optimizer on cuda), then eval-mode encoder inference at
/// batch 1 and 32. On cuda the input is uploaded before the clock starts, and the clock stops
/// after the device has finished.
template <class Backend>
bench_timings time_pretraining(const model::ecg_transformer_options& options, const data::batch& b, std::int64_t steps) {
  using cfg = model::tiny_config<float, Backend>;
  using objective_t = pipeline::w2v_cmsc_objective<cfg>;
  using clock = std::chrono::steady_clock;
  bench_timings t;
  {
    objective_t objective(options);
    parameter_store<float> store;
    objective.encoder().declare_parameters(store);
    store.allocate();
    objective.encoder().initialize(random_stream(1, stream_id({static_cast<std::uint64_t>(rng_purpose::init)})));
    pipeline::training_backend<adam, fixed_schedule, float, Backend> training(
        store, adam{.beta1 = 0.9, .beta2 = 0.98, .eps = 1e-6, .weight_decay = 0.01}, fixed_schedule{.rate = 5e-5});
    const auto update = [&](std::int64_t u) {
      training.zero_grad();
      const auto r = objective.accumulate(b, 1, static_cast<std::uint64_t>(u), u);
      training.step(1.0 / r.sample_size);
    };
    update(0);  // warm-up: allocates every workspace
    training.synchronize();
    const auto t0 = clock::now();
    for (std::int64_t u = 1; u <= steps; ++u) update(u);
    training.synchronize();
    t.train_s_per_step = std::chrono::duration<double>(clock::now() - t0).count() / static_cast<double>(steps);
    t.parameters = store.size();
  }
  auto eval_options = options;
  eval_options.pretraining_heads = false;
  eval_options.apply_mask = false;
  model::ecg_transformer<cfg> encoder(eval_options);
  parameter_store<float> eval_store;
  encoder.declare_parameters(eval_store);
  eval_store.allocate();
  encoder.initialize(random_stream(1, stream_id({static_cast<std::uint64_t>(rng_purpose::init)})));
  encoder.set_training(false);
  pipeline::inference_parameters<float, Backend> resident(eval_store);
  const auto infer_ms = [&](std::size_t batch, int repeats) {
    tensor<float, 3> x = tensor<float, 3>::from_shape({batch, options.in_channels, b.signals.shape()[2]});
    std::copy_n(b.signals.data(), std::min(x.size(), b.signals.size()), x.data());
    typename model::ecg_transformer<cfg>::input_type input;
    nn::detail::assign_from_host(input, x);
    encoder.forward(input);  // warm-up
    resident.synchronize();
    const auto start = clock::now();
    for (int i = 0; i < repeats; ++i) encoder.forward(input);
    resident.synchronize();
    const double s = std::chrono::duration<double>(clock::now() - start).count();
    return 1e3 * s / static_cast<double>(repeats) / static_cast<double>(batch);
  };
  t.infer_ms_b1 = infer_ms(1, 3);
  t.infer_ms_b32 = infer_ms(32, 1);
  return t;
}

#if defined(ECGSSL_CLI_WITH_CUDA)
/// time_pretraining<cuda>, defined in the CUDA translation unit of the command
/// (examples/ecgssl_cli_cuda.cu).
bench_timings time_pretraining_on_cuda(const model::ecg_transformer_options& options, const data::batch& b,
                                       std::int64_t steps);
#endif

}  // namespace detail

/// Runs `bench` on `args` (the words after "bench"): 0 on success, 2 on a usage error.
inline int run_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
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
  std::string device = "host";
  detail::add_device_option(app, device);
  return detail::run_cli11(app, args, out, err, [&]() -> int {
    const auto where = detail::parse_device(device);
    (void)where;  // only a build with CUDA has a second device
    const auto options = pipeline::encoder_config::resolve(config);
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

    const detail::bench_timings timings =
#if defined(ECGSSL_CLI_WITH_CUDA)
        where == detail::compute_device::cuda ? detail::time_pretraining_on_cuda(options, b, steps) :
#endif
                                              detail::time_pretraining<host>(options, b, steps);
    const double train_s = timings.train_s_per_step, b1 = timings.infer_ms_b1, b32 = timings.infer_ms_b32;
    const double forward = detail::encoder_forward_flops(options, length);
    const double train_gflops = 3.0 * forward * static_cast<double>(segments) / train_s / 1e9;
    const double rss = detail::peak_rss_mib();
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
      out << j.dump() << "\n";
    } else {
      out << "bench: config " << config << ", " << timings.parameters << " parameters, " << max_threads()
          << " threads, device " << device << "\n"
          << "  train: " << train_s << " s/step, " << static_cast<double>(segments) / train_s << " segments/s, "
          << train_gflops << " GFLOP/s (" << segments << " segments per step)\n"
          << "  inference: " << b1 << " ms/segment at batch 1, " << b32 << " ms/segment at batch 32 ("
          << forward / (b32 * 1e-3) / 1e9 << " GFLOP/s)\n"
          << "  peak RSS: " << rss << " MiB\n";
    }
    return 0;
  });
}

}  // namespace ecgssl::cli

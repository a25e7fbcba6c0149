#pragma once
/// \file benchmark.hpp
/// What `ecgssl bench` measures, for any program that wants the same figures: the time of whole
/// W2V+CMSC pre-training updates (forward, loss, backward, Adam; spec §4.4, §5) on a given batch
/// after one warm-up update, eval-mode encoder inference at batch 1 and 32, the analytic
/// floating-point operation count of the encoder, and the process's peak resident memory.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

#include "../../core/backend_tensor.hpp"
#include "../../core/parameter_store.hpp"
#include "../../core/philox.hpp"
#include "../../data/batch_loader.hpp"
#include "../../model/configs.hpp"
#include "../../model/ecg_transformer.hpp"
#include "../../nn/detail/common.hpp"
#include "../../optim/adam.hpp"
#include "../../optim/fixed_schedule.hpp"
#include "../../optim/training_backend.hpp"
#include "pretrain_method.hpp"

namespace ecgssl::pipeline {

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
struct pretraining_timings {
  double train_s_per_step = 0;
  double infer_ms_b1 = 0, infer_ms_b32 = 0;  ///< per segment
  double train_peak_rss_mib = 0;  ///< the process's peak RSS after the updates, before inference
  std::size_t parameters = 0;
};

/// Times `steps` W2V+CMSC updates on batch `b` after one warm-up (training_backend: the host
/// optimizer, or the device mirror and optimizer on cuda), then eval-mode encoder inference at
/// batch 1 and 32. On cuda the input is uploaded before the clock starts, and the clock stops
/// after the device has finished.
template <class Backend>
pretraining_timings time_pretraining(const model::ecg_transformer_options& options, const data::batch& b, std::int64_t steps) {
  using cfg = model::tiny_config<float, Backend>;
  using objective_t = w2v_cmsc_objective<cfg>;
  using clock = std::chrono::steady_clock;
  pretraining_timings t;
  {
    objective_t objective(options);
    parameter_store<float> store;
    objective.encoder().declare_parameters(store);
    store.allocate();
    objective.encoder().initialize(random_stream(1, stream_id({static_cast<std::uint64_t>(rng_purpose::init)})));
    training_backend<adam, fixed_schedule, float, Backend> training(
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
  t.train_peak_rss_mib = peak_rss_mib();
  auto eval_options = options;
  eval_options.pretraining_heads = false;
  eval_options.apply_mask = false;
  model::ecg_transformer<cfg> encoder(eval_options);
  parameter_store<float> eval_store;
  encoder.declare_parameters(eval_store);
  eval_store.allocate();
  encoder.initialize(random_stream(1, stream_id({static_cast<std::uint64_t>(rng_purpose::init)})));
  encoder.set_training(false);
  inference_parameters<float, Backend> resident(eval_store);
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

}  // namespace ecgssl::pipeline

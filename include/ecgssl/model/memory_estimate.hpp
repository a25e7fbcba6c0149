#pragma once
/// \file memory_estimate.hpp
/// A lower bound on the memory a training run needs, compared with what the machine has before
/// any data is read, so that `--batch-pairs 100000` or a huge `--batch-size` is refused at start
/// with the numbers, not met by std::bad_alloc (or the kernel's OOM killer) minutes later.
///
/// The bound counts only what training cannot do without: float32 weights, gradients and Adam's
/// two moments (16 bytes a parameter), and per segment of a micro-batch the activations that
/// backward reads (three tensors per conv block; per transformer layer six [T, D] tensors, two
/// [T, F] ones and the attention probabilities [H, T, T]; with the pre-training heads, the
/// contrastive candidates of the masked frames, (negatives + 1) x final_dim each). Measured peaks
/// lie above it (peak RSS growth per segment of a W2V+CMSC+RLM micro-batch, AMD EPYC, one thread,
/// 2026-12-07: tiny 24 MiB against a bound of 16 MiB, base 355 MiB against 107 MiB), so a refused
/// run could never have fitted, and a run that passes may still need more: the bound refuses, it
/// does not promise.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <fstream>
#include <string>

#include <unistd.h>

#include "../core/error.hpp"
#include "configs.hpp"
#include "encoder_config.hpp"

namespace ecgssl::model {

/// Bytes a training run of encoder `o` needs at least with `segments` segments of `samples`
/// samples in each micro-batch; `negatives` is the contrastive loss's (spec: 100; 0 without the
/// pre-training heads).
[[nodiscard]] inline double training_bytes_lower_bound(const ecg_transformer_options& o, std::size_t segments,
                                                       std::size_t samples = 2500, std::size_t negatives = 100) {
  const double c = static_cast<double>(o.conv_dim), d = static_cast<double>(o.embed_dim), f = static_cast<double>(o.ffn_dim);
  const double h = static_cast<double>(o.heads);
  double length = static_cast<double>(samples), conv_values = 0;
  for (std::size_t i = 0; i < o.conv_layers && length >= static_cast<double>(o.conv_kernel); ++i) {
    length = std::floor((length - static_cast<double>(o.conv_kernel)) / static_cast<double>(std::max<std::size_t>(o.conv_stride, 1))) + 1;
    conv_values += 3 * c * length;
  }
  const double t = length;
  double per_segment = conv_values + static_cast<double>(o.layers) * (6 * t * d + 2 * t * f + h * t * t);
  if (o.pretraining_heads && o.apply_mask) {
    const double masked = std::min(1.0, o.mask_prob) * t;
    per_segment += (static_cast<double>(negatives) + 1) * masked * static_cast<double>(o.final_dim);
  }
  return 16.0 * encoder_config::estimated_parameters(o) + 4.0 * per_segment * static_cast<double>(segments);
}

/// The memory this process may use: the machine's, or its control group's limit where lower
/// (a container's), in bytes; 0 if unknown.
[[nodiscard]] inline double usable_memory_bytes() {
  double bytes = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  std::ifstream limit("/sys/fs/cgroup/memory.max");
  std::string text;
  if (limit >> text && text != "max") {
    try {
      const double cgroup = std::stod(text);
      if (cgroup > 0 && (bytes <= 0 || cgroup < bytes)) bytes = cgroup;
    } catch (const std::exception&) {
      // An unreadable limit is no limit: the machine's memory stands.
    }
  }
  return bytes > 0 ? bytes : 0.0;
}

/// Refuses a run whose lower bound exceeds the usable memory: config_error naming `option` (the
/// batch option the user can lower) with both numbers.
inline void require_training_fits(const ecg_transformer_options& o, std::size_t segments, const std::string& option,
                                  std::size_t negatives = 100, double available = usable_memory_bytes()) {
  const double need = training_bytes_lower_bound(o, segments, 2500, negatives);
  if (available > 0 && need > available) {
    const auto mib = [](double b) { return std::to_string(static_cast<long long>(b / (1 << 20))); };
    throw config_error(at_field(option),
                       std::to_string(segments) + " segments per micro-batch need at least " + mib(need) + " MiB to train",
                       "a batch that fits the " + mib(available) + " MiB this process may use (lower " + option +
                           ", or raise --update-freq where the command has it)");
  }
}

}  // namespace ecgssl::model

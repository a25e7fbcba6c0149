#pragma once
/// \file cosine_schedule.hpp
/// Linear warm-up then half-cosine decay to min_rate.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

#include "../core/error.hpp"

namespace ecgssl {

/// lr(u) = lr·(u+1)/W for u < W; then with progress π = min(1, (u - W)/(total - W)):
/// min + (lr - min)·½(1 + cos(π·progress)). Models ecgssl::schedule.
struct cosine_schedule {
  double rate = 1e-3;
  std::int64_t warmup_updates = 0;
  std::int64_t total_updates = 1;
  double min_rate = 0.0;

  [[nodiscard]] double learning_rate(std::int64_t update) const {
    if (total_updates <= warmup_updates) {
      throw config_error(at_field("cosine.total_updates"), std::to_string(total_updates),
                         "more than warmup_updates (" + std::to_string(warmup_updates) + ")");
    }
    if (update < warmup_updates) {
      return rate * static_cast<double>(update + 1) / static_cast<double>(warmup_updates);
    }
    const double progress = std::min(1.0, static_cast<double>(update - warmup_updates) /
                                              static_cast<double>(total_updates - warmup_updates));
    return min_rate + (rate - min_rate) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  }
};

}  // namespace ecgssl

#pragma once
/// \file polynomial_decay_schedule.hpp
/// Linear warm-up then polynomial decay to end_rate (fairseq `polynomial_decay`).

#include <cmath>
#include <cstdint>
#include <string>

#include "../core/error.hpp"

namespace ecgssl {

/// lr(u) = lr·u/W for u <= W (W > 0); end for u >= total; otherwise
/// (lr - end)·(1 - (u - W)/(total - W))^power + end. Models ecgssl::schedule.
struct polynomial_decay_schedule {
  double rate = 1e-3;
  std::int64_t warmup_updates = 0;
  std::int64_t total_updates = 1;
  double end_rate = 0.0;
  double power = 1.0;

  [[nodiscard]] double learning_rate(std::int64_t update) const {
    if (total_updates <= warmup_updates) {
      throw config_error(at_field("polynomial_decay.total_updates"), std::to_string(total_updates),
                         "more than warmup_updates (" + std::to_string(warmup_updates) + ")");
    }
    if (warmup_updates > 0 && update <= warmup_updates) {
      return rate * static_cast<double>(update) / static_cast<double>(warmup_updates);
    }
    if (update >= total_updates) return end_rate;
    const double remaining = 1.0 - static_cast<double>(update - warmup_updates) /
                                       static_cast<double>(total_updates - warmup_updates);
    return (rate - end_rate) * std::pow(remaining, power) + end_rate;
  }
};

}  // namespace ecgssl

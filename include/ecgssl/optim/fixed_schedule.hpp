#pragma once
/// \file fixed_schedule.hpp
/// Constant learning rate with an optional linear warm-up (fairseq `fixed`, spec §5:
/// pre-training and arrhythmia fine-tuning use 5e-5 with no warm-up).

#include <cstdint>

#include "../core/error.hpp"

namespace ecgssl {

/// lr(u) = lr·(u+1)/warmup for u < warmup, else lr (u = 0-based update number). Models
/// ecgssl::schedule.
struct fixed_schedule {
  double rate = 5e-5;
  std::int64_t warmup_updates = 0;

  [[nodiscard]] double learning_rate(std::int64_t update) const {
    if (warmup_updates > 0 && update < warmup_updates) {
      return rate * static_cast<double>(update + 1) / static_cast<double>(warmup_updates);
    }
    return rate;
  }
};

}  // namespace ecgssl

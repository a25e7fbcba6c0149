#pragma once
/// \file tri_stage_schedule.hpp
/// Tri-stage schedule (fairseq `tri_stage`, spec §5 identification fine-tuning): linear warm-up
/// from init_lr_scale·peak, hold at peak, exponential decay to final_lr_scale·peak, then hold.

#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "../core/error.hpp"

namespace ecgssl {

/// lr(u), u = 0-based update number:
///  u < W:            init + (peak - init)·u/W
///  u < W + H:        peak
///  u <= W + H + D:   peak·exp(-ln(1/final_scale)·(u - W - H)/D)
///  otherwise:        final_scale·peak
/// Models ecgssl::schedule.
class tri_stage_schedule {
 public:
  tri_stage_schedule(double peak, std::int64_t warmup, std::int64_t hold, std::int64_t decay,
                     double init_lr_scale = 0.01, double final_lr_scale = 0.01)
      : peak_(peak), warmup_(warmup), hold_(hold), decay_(decay), init_scale_(init_lr_scale), final_scale_(final_lr_scale) {
    if (warmup < 0 || hold < 0 || decay < 0) {
      throw config_error(at_field("tri_stage.steps"), "a negative phase length", "warmup, hold, decay >= 0");
    }
    if (!(final_lr_scale > 0)) {
      throw config_error(at_field("tri_stage.final_lr_scale"), std::to_string(final_lr_scale), "> 0 (exponential decay)");
    }
  }

  /// Phase lengths from ratios of max_update (fairseq: int(max_update·ratio) each); spec §5:
  /// ratios {0.1, 0.2, 0.7} of 320000 -> 32000 / 64000 / 224000.
  static tri_stage_schedule from_phase_ratios(double peak, std::int64_t max_update, std::array<double, 3> ratios,
                                              double init_lr_scale = 0.01, double final_lr_scale = 0.01) {
    const double sum = ratios[0] + ratios[1] + ratios[2];
    if (std::abs(sum - 1.0) > 1e-6 || ratios[0] < 0 || ratios[1] < 0 || ratios[2] < 0) {
      throw config_error(at_field("tri_stage.phase_ratio"), "ratios summing to " + std::to_string(sum),
                         "three non-negative ratios summing to 1");
    }
    const auto part = [&](double r) { return static_cast<std::int64_t>(static_cast<double>(max_update) * r); };
    return {peak, part(ratios[0]), part(ratios[1]), part(ratios[2]), init_lr_scale, final_lr_scale};
  }

  [[nodiscard]] double learning_rate(std::int64_t update) const {
    const double init = init_scale_ * peak_;
    if (update < warmup_) {
      const double rate = warmup_ != 0 ? (peak_ - init) / static_cast<double>(warmup_) : 0.0;
      return init + rate * static_cast<double>(update);
    }
    std::int64_t offset = warmup_;
    if (update < offset + hold_) return peak_;
    offset += hold_;
    if (update <= offset + decay_) {
      const double factor = decay_ != 0 ? -std::log(final_scale_) / static_cast<double>(decay_) : 0.0;
      return peak_ * std::exp(-factor * static_cast<double>(update - offset));
    }
    return final_scale_ * peak_;
  }

  [[nodiscard]] std::array<std::int64_t, 3> phases() const { return {warmup_, hold_, decay_}; }

 private:
  double peak_;
  std::int64_t warmup_, hold_, decay_;
  double init_scale_, final_scale_;
};

}  // namespace ecgssl

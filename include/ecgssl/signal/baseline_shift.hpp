#pragma once
/// \file baseline_shift.hpp
/// Baseline shift (spec §7 Table 4 notes): one span of length len ~ N(0.2 T, (0.04 T)^2) starting
/// at t0 = floor(U(0, T - len)) and ending at floor(t0 + len) (T = samples) is offset in every
/// lead by s_l - a, with a sign s_l = +1 or -1 (probability 1/2 each) per lead and one
/// a ~ U(min, max); then the limb leads are re-derived (dependency). A drawn span that reaches
/// outside [0, T) (len < 0 or len > T, over 5 standard deviations away) is cut to the record.
///
/// Draws: sub-stream "shift": uniform 0 = apply gate, 1 = a, 2 = start, 3 + l = sign of lead l
/// (+1 iff u >= 0.5); sub-stream "shift_gauss": normal(0) gives len.

#include <algorithm>
#include <cmath>

#include "../core/concepts.hpp"
#include "detail/physio.hpp"

namespace ecgssl::signal {

/// Additive step-like baseline shift on x: [leads, samples].
class baseline_shift {
 public:
  explicit baseline_shift(physio_options options = {}, double shift_ratio = 0.2, double length_sd_ratio = 0.2)
      : options_(options), ratio_(shift_ratio), sd_ratio_(length_sd_ratio) {
    options_.validate();
    if (!(ratio_ > 0.0 && ratio_ <= 1.0)) {
      throw config_error(at_field("shift_ratio"), std::to_string(ratio_), "a fraction of the record in (0, 1]");
    }
  }

  void apply(tensor<float, 2>& x, signal_context& ctx) const {
    detail::check_dependency(x, options_);
    const auto rng = detail::sub_stream(ctx.rng, detail::physio_tag::shift);
    if (!(options_.probability > rng.uniform(0))) return;
    const auto gauss = detail::sub_stream(ctx.rng, detail::physio_tag::shift_gauss);
    const std::size_t leads = x.shape()[0];
    const std::size_t n = x.shape()[1];
    const double total = static_cast<double>(n);
    const double mean_length = total * ratio_;
    const double length = mean_length + mean_length * sd_ratio_ * gauss.normal(0);
    const double a = detail::uniform_in(rng, 1, options_.min_amplitude, options_.max_amplitude);
    const double start = std::floor(rng.uniform(2) * (total - length));
    const double end = std::floor(start + length);
    const auto begin_t = static_cast<std::size_t>(std::clamp(start, 0.0, total));
    const auto end_t = static_cast<std::size_t>(std::clamp(end, 0.0, total));
    for (std::size_t l = 0; l < leads; ++l) {
      const double sign = rng.uniform(3 + l) >= 0.5 ? 1.0 : -1.0;
      const auto offset = static_cast<float>(sign - a);
      float* row = x.data() + l * n;
      for (std::size_t t = begin_t; t < end_t; ++t) row[t] += offset;
    }
    detail::finish(x, options_);
  }

 private:
  physio_options options_;
  double ratio_;
  double sd_ratio_;
};

}  // namespace ecgssl::signal

#pragma once
/// \file powerline_noise.hpp
/// Powerline interference (spec §7 Table 4 notes, paper App. B): every lead gets
/// a * cos(2 pi f t / fs + phi) with one amplitude a ~ U(min, max), phase phi ~ U(0, 2 pi) and
/// f = 50 or 60 Hz with probability 1/2 each (the code; the paper says 50 Hz: choose with
/// `frequency`). Then III, aVR, aVL, aVF are re-derived from I and II (dependency).
///
/// Draws (sub-stream of ctx.rng tagged "powerline"): uniform 0 = apply gate (applied iff
/// probability > u), 1 = amplitude, 2 = frequency choice (50 Hz iff u > 0.5), 3 = phase.

#include <cmath>
#include <numbers>

#include "../core/concepts.hpp"
#include "detail/physio.hpp"

namespace ecgssl::signal {

enum class powerline_frequency { random_50_60, hz50, hz60 };

/// Additive powerline noise on x: [leads, samples].
class powerline_noise {
 public:
  explicit powerline_noise(physio_options options = {},
                           powerline_frequency frequency = powerline_frequency::random_50_60)
      : options_(options), frequency_(frequency) {
    options_.validate();
  }

  void apply(tensor<float, 2>& x, signal_context& ctx) const {
    detail::check_dependency(x, options_);
    const auto rng = detail::sub_stream(ctx.rng, detail::physio_tag::powerline);
    if (!(options_.probability > rng.uniform(0))) return;
    const double amplitude = detail::uniform_in(rng, 1, options_.min_amplitude, options_.max_amplitude);
    double f = rng.uniform(2) > 0.5 ? 50.0 : 60.0;
    if (frequency_ == powerline_frequency::hz50) f = 50.0;
    if (frequency_ == powerline_frequency::hz60) f = 60.0;
    const double phase = 2.0 * std::numbers::pi * rng.uniform(3);
    const std::size_t leads = x.shape()[0];
    const std::size_t n = x.shape()[1];
    const double omega = 2.0 * std::numbers::pi * f / ctx.sampling_frequency;
    for (std::size_t t = 0; t < n; ++t) {
      const auto noise = static_cast<float>(amplitude * std::cos(omega * static_cast<double>(t) + phase));
      for (std::size_t l = 0; l < leads; ++l) x(l, t) += noise;
    }
    detail::finish(x, options_);
  }

 private:
  physio_options options_;
  powerline_frequency frequency_;
};

}  // namespace ecgssl::signal

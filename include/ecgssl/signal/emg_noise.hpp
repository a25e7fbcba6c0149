#pragma once
/// \file emg_noise.hpp
/// Muscle (EMG) noise (spec §7 Table 4 notes): lead l gets a_l * N(0, 1) white noise with
/// a_l ~ U(min, max) drawn per lead; then the limb leads are re-derived (dependency).
///
/// Draws: sub-stream "emg": uniform 0 = apply gate, 1 + l = a_l; sub-stream "emg_gauss":
/// normal(l * samples + t) = the noise sample of lead l at time t.

#include "../core/concepts.hpp"
#include "detail/physio.hpp"

namespace ecgssl::signal {

/// Additive EMG-like white noise on x: [leads, samples].
class emg_noise {
 public:
  explicit emg_noise(physio_options options = {}) : options_(options) { options_.validate(); }

  void apply(tensor<float, 2>& x, signal_context& ctx) const {
    detail::check_dependency(x, options_);
    const auto rng = detail::sub_stream(ctx.rng, detail::physio_tag::emg);
    if (!(options_.probability > rng.uniform(0))) return;
    const auto gauss = detail::sub_stream(ctx.rng, detail::physio_tag::emg_gauss);
    const std::size_t leads = x.shape()[0];
    const std::size_t n = x.shape()[1];
    for (std::size_t l = 0; l < leads; ++l) {
      const double amplitude = detail::uniform_in(rng, 1 + l, options_.min_amplitude, options_.max_amplitude);
      float* row = x.data() + l * n;
      for (std::size_t t = 0; t < n; ++t) {
        row[t] += static_cast<float>(amplitude * gauss.normal(l * n + t));
      }
    }
    detail::finish(x, options_);
  }

 private:
  physio_options options_;
};

}  // namespace ecgssl::signal

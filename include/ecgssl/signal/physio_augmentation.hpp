#pragma once
/// \file physio_augmentation.hpp
/// The paper's Physio augmentation sets (spec §7 Table 4): Physio(4) = powerline noise + EMG noise
/// + baseline wander + baseline shift, Physio(3) = the same without baseline shift, applied in
/// that order, each re-deriving the limb leads afterwards. Combine with RLM through the batch
/// loader's masking policy, which runs after the transforms so masked leads stay exactly zero.

#include "baseline_shift.hpp"
#include "baseline_wander.hpp"
#include "compose.hpp"
#include "emg_noise.hpp"
#include "powerline_noise.hpp"

namespace ecgssl::signal {

using physio4 = compose<powerline_noise, emg_noise, baseline_wander, baseline_shift>;
using physio3 = compose<powerline_noise, emg_noise, baseline_wander>;

/// Physio(4) with one set of options for every augmentation (the reference passes the task's
/// max_amplitude and dependency to all of them).
[[nodiscard]] inline physio4 make_physio4(physio_options options = {},
                                          powerline_frequency frequency = powerline_frequency::random_50_60) {
  return physio4(powerline_noise(options, frequency), emg_noise(options), baseline_wander(options),
                 baseline_shift(options));
}

/// Physio(3): Physio(4) without baseline shift.
[[nodiscard]] inline physio3 make_physio3(physio_options options = {},
                                          powerline_frequency frequency = powerline_frequency::random_50_60) {
  return physio3(powerline_noise(options, frequency), emg_noise(options), baseline_wander(options));
}

}  // namespace ecgssl::signal

#pragma once
// Shared parts of the Physio augmentations (spec §7 Table 4 notes).

#include <cstdint>
#include <string>

#include "../../core/error.hpp"
#include "../../core/philox.hpp"
#include "../../core/tensor.hpp"
#include "../../io/lead_set.hpp"

namespace ecgssl::signal {

/// Options every Physio augmentation takes (fairseq-signals `ecg_pretraining` task: max_amplitude
/// 0.1 and dependency=True passed to every augmentation; the paper's App. B says U(0, 0.5)).
struct physio_options {
  double min_amplitude = 0.0;  ///< amplitudes are drawn from U(min_amplitude, max_amplitude)
  double max_amplitude = 0.1;
  double probability = 1.0;  ///< chance that the augmentation is applied at all
  bool dependency = true;    ///< re-derive III, aVR, aVL, aVF from I, II afterwards (needs 12 leads)

  void validate() const {
    if (!(min_amplitude >= 0.0 && min_amplitude <= max_amplitude)) {
      throw config_error(at_field("max_amplitude"),
                         "amplitude range [" + std::to_string(min_amplitude) + ", " + std::to_string(max_amplitude) + "]",
                         "0 <= min_amplitude <= max_amplitude");
    }
    if (!(probability >= 0.0 && probability <= 1.0)) {
      throw config_error(at_field("probability"), std::to_string(probability), "a probability in [0, 1]");
    }
  }
};

namespace detail {

/// Purpose tags that separate each augmentation's draws from the others' (mixed into the stream).
enum class physio_tag : std::uint64_t {
  powerline = 0x5057'0001,
  emg = 0x5057'0002,
  emg_gauss = 0x5057'0003,
  wander = 0x5057'0004,
  wander_gauss = 0x5057'0005,
  shift = 0x5057'0006,
  shift_gauss = 0x5057'0007,
};

inline random_stream sub_stream(const random_stream& rng, physio_tag tag) {
  return random_stream(rng.seed(), stream_id({rng.stream(), static_cast<std::uint64_t>(tag)}));
}

inline void check_dependency(const tensor<float, 2>& x, const physio_options& options) {
  if (options.dependency && x.shape()[0] != io::standard_lead_count) {
    throw shape_error(at_field("x"),
                      "limb-lead re-derivation (dependency = true) needs the 12 standard leads, got " +
                          std::to_string(x.shape()[0]),
                      "x: [12, samples] in canonical order, or dependency = false");
  }
}

inline void finish(tensor<float, 2>& x, const physio_options& options) {
  if (options.dependency) io::derive_limb_leads(x);
}

inline double uniform_in(const random_stream& rng, std::uint64_t i, double lo, double hi) {
  return lo + (hi - lo) * rng.uniform(i);
}

}  // namespace detail
}  // namespace ecgssl::signal

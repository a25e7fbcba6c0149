#pragma once
/// \file random_time_mask.hpp
/// 3KG's temporal masking (spec §4.5, `mask_ratio 0.5`; fairseq-signals `_3KGECGDataset`,
/// whose config help reads "ratio of random time masking for each lead"): every lead l gets its
/// own window of w = floor(samples · ratio) consecutive samples set to 0, starting at
/// s_l ~ U{0, ..., samples - 1} and wrapping around the end (samples s_l .. s_l + w - 1 modulo
/// samples), as the reference zeroes [s, min(s + w, n)) and [0, s + w - n). ratio 0 = identity.
///
/// Draws (sub-stream of ctx.rng tagged "time mask"): below(l, samples) = start of lead l.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "../core/concepts.hpp"
#include "../core/error.hpp"

namespace ecgssl::signal {

/// Zeroes one circular window of floor(samples · ratio) samples in every lead of x: [leads, samples].
class random_time_mask {
 public:
  explicit random_time_mask(double ratio = 0.5) : ratio_(ratio) {
    if (!(ratio_ >= 0.0 && ratio_ <= 1.0)) {
      throw config_error(at_field("mask_ratio"), std::to_string(ratio_), "a ratio in [0, 1] (3KG: 0.5)");
    }
  }

  void apply(tensor<float, 2>& x, signal_context& ctx) const {
    const std::size_t leads = x.shape()[0];
    const std::size_t n = x.shape()[1];
    if (n == 0 || ratio_ == 0.0) return;
    if (n > std::numeric_limits<std::uint32_t>::max()) {
      throw shape_error(at_field("x"), std::to_string(n) + " samples", "fewer than 2^32 samples per lead");
    }
    const random_stream r(ctx.rng.seed(), stream_id({ctx.rng.stream(), stream_tag}));
    const auto width = static_cast<std::size_t>(std::floor(static_cast<double>(n) * ratio_));
    for (std::size_t l = 0; l < leads; ++l) {
      const std::size_t start = r.below(l, static_cast<std::uint32_t>(n));
      float* row = x.data() + l * n;
      const std::size_t first_end = std::min(start + width, n);
      std::fill(row + start, row + first_end, 0.0f);
      if (start + width > n) std::fill(row, row + (start + width - n), 0.0f);
    }
  }

  [[nodiscard]] double ratio() const { return ratio_; }

  /// Tag mixed into ctx.rng's stream for this transform's draws.
  static constexpr std::uint64_t stream_tag = 0x3b47'0002;

 private:
  double ratio_;
};

}  // namespace ecgssl::signal

#pragma once
/// \file segmenter.hpp
/// Non-overlapping fixed-length segmentation (spec §2.2): segment i covers samples
/// [i * length, (i + 1) * length); a trailing partial segment is dropped, so a record of n samples
/// gives floor(n / length) segments (5 s at 500 Hz = 2500 samples: a 10 s record gives 2, a 12 s
/// record also 2).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace ecgssl::signal {

/// Splits x: [leads, samples] into [leads, length] segments.
class segmenter {
 public:
  explicit segmenter(std::size_t length = 2500) : length_(length) {
    if (length_ == 0) throw config_error(at_field("segment_length"), "0 samples", "a positive length");
  }

  /// The segment length that `seconds` seconds have at `sampling_frequency` Hz (5 s, 500 Hz -> 2500).
  static segmenter of_duration(double seconds, double sampling_frequency) {
    const double samples = seconds * sampling_frequency;
    if (!(samples >= 1.0) || std::abs(samples - std::round(samples)) > 1e-9 * samples) {
      throw config_error(at_field("segment_seconds"),
                         std::to_string(seconds) + " s at " + std::to_string(sampling_frequency) + " Hz is " +
                             std::to_string(samples) + " samples",
                         "a duration that is a whole, positive number of samples");
    }
    return segmenter(static_cast<std::size_t>(std::round(samples)));
  }

  [[nodiscard]] std::size_t length() const { return length_; }
  /// Number of complete segments in `samples` samples.
  [[nodiscard]] std::size_t count(std::size_t samples) const { return samples / length_; }

  /// Copies segment `index` of x: [leads, samples] into out: [leads, length] (resized if needed).
  template <class T>
  void extract(const tensor<T, 2>& x, std::size_t index, tensor<T, 2>& out) const {
    const std::size_t leads = x.shape()[0];
    const std::size_t n = x.shape()[1];
    if (index >= count(n)) {
      throw shape_error(at_field("segment"),
                        "segment " + std::to_string(index) + " of a record with " + std::to_string(n) + " samples",
                        "an index below " + std::to_string(count(n)) + " (complete segments of " +
                            std::to_string(length_) + " samples)");
    }
    if (out.shape()[0] != leads || out.shape()[1] != length_) out.resize({leads, length_});
    for (std::size_t l = 0; l < leads; ++l) {
      std::copy_n(x.data() + l * n + index * length_, length_, out.data() + l * length_);
    }
  }

  /// All complete segments, in order.
  template <class T>
  [[nodiscard]] std::vector<tensor<T, 2>> split(const tensor<T, 2>& x) const {
    std::vector<tensor<T, 2>> segments(count(x.shape()[1]));
    for (std::size_t i = 0; i < segments.size(); ++i) extract(x, i, segments[i]);
    return segments;
  }

 private:
  std::size_t length_;
};

}  // namespace ecgssl::signal

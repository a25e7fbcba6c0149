#pragma once
/// \file random_crop.hpp
/// A random window of fixed length (spec §2.4: PTB-XL identification takes a random 5 s crop).
/// The reference draws start = numpy randint(0, L - 2500), whose upper bound is excluded, so it
/// never picks the last possible start; this transform draws uniformly from all L - length + 1.

#include <algorithm>
#include <cstdint>
#include <string>

#include "../core/concepts.hpp"
#include "../core/error.hpp"

namespace ecgssl::signal {

/// Keeps samples [s, s + length) of x: [leads, samples], s uniform in [0, samples - length],
/// drawn from ctx.rng draw 0. Shorter input throws shape_error.
class random_crop {
 public:
  explicit random_crop(std::size_t length) : length_(length) {
    if (length_ == 0) throw config_error(at_field("crop_length"), "0 samples", "a positive length");
  }

  /// The start this transform picks for `samples` samples and stream `rng`.
  [[nodiscard]] std::size_t start(std::size_t samples, const random_stream& rng) const {
    if (samples < length_) {
      throw shape_error(at_field("x"), "cannot crop " + std::to_string(length_) + " samples from " +
                                           std::to_string(samples),
                        "at least " + std::to_string(length_) + " samples");
    }
    return rng.below(0, static_cast<std::uint32_t>(samples - length_ + 1));
  }

  void apply(tensor<float, 2>& x, signal_context& ctx) const {
    const std::size_t leads = x.shape()[0];
    const std::size_t n = x.shape()[1];
    const std::size_t s = start(n, ctx.rng);
    if (n == length_) return;
    tensor<float, 2> y = tensor<float, 2>::from_shape({leads, length_});
    for (std::size_t l = 0; l < leads; ++l) std::copy_n(x.data() + l * n + s, length_, y.data() + l * length_);
    x = std::move(y);
  }

  [[nodiscard]] std::size_t length() const { return length_; }

 private:
  std::size_t length_;
};

}  // namespace ecgssl::signal

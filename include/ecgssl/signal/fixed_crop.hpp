#pragma once
/// \file fixed_crop.hpp
/// A fixed window [start, start + length) of every recording (e.g. the first 5 s).

#include <algorithm>
#include <string>

#include "../core/concepts.hpp"
#include "../core/error.hpp"

namespace ecgssl::signal {

/// Keeps samples [start, start + length) of x: [leads, samples]; shorter input throws shape_error.
class fixed_crop {
 public:
  fixed_crop(std::size_t start, std::size_t length) : start_(start), length_(length) {
    if (length_ == 0) throw config_error(at_field("crop_length"), "0 samples", "a positive length");
  }

  void apply(tensor<float, 2>& x, signal_context&) const {
    const std::size_t leads = x.shape()[0];
    const std::size_t n = x.shape()[1];
    if (start_ + length_ > n) {
      throw shape_error(at_field("x"), "cannot crop samples [" + std::to_string(start_) + ", " +
                                           std::to_string(start_ + length_) + ") from " + std::to_string(n),
                        "at least " + std::to_string(start_ + length_) + " samples");
    }
    if (start_ == 0 && length_ == n) return;
    tensor<float, 2> y = tensor<float, 2>::from_shape({leads, length_});
    for (std::size_t l = 0; l < leads; ++l) std::copy_n(x.data() + l * n + start_, length_, y.data() + l * length_);
    x = std::move(y);
  }

 private:
  std::size_t start_;
  std::size_t length_;
};

}  // namespace ecgssl::signal

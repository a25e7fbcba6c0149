#pragma once
/// \file require_finite.hpp
/// Rejects recordings with NaN or infinite samples (spec §2.2: the reference skips records that
/// contain NaN). Throws data_error naming the lead and sample, so a manifest scan can record the
/// reason and a loader reports which record was bad.

#include <cmath>
#include <string>

#include "../core/concepts.hpp"
#include "../core/error.hpp"

namespace ecgssl::signal {

/// Throws data_error at the first non-finite sample of x: [leads, samples]; changes nothing.
struct require_finite {
  void apply(tensor<float, 2>& x, signal_context&) const {
    const std::size_t n = x.shape()[1];
    for (std::size_t l = 0; l < x.shape()[0]; ++l) {
      for (std::size_t t = 0; t < n; ++t) {
        if (!std::isfinite(x(l, t))) {
          throw data_error(at_field("lead " + std::to_string(l) + ", sample " + std::to_string(t)),
                           std::isnan(x(l, t)) ? "NaN sample" : "infinite sample", "finite samples only");
        }
      }
    }
  }
};

}  // namespace ecgssl::signal

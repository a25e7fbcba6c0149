#pragma once
/// \file zscore.hpp
/// Per-lead standardisation x <- (x - mean) / std (population std). Not used by the paper
/// (`task.normalize: false`, spec §2.2) but common in other ECG pipelines. A lead whose std is
/// below `epsilon` (flat or zero-filled lead) becomes all zeros instead of dividing by ~0.

#include <cmath>

#include "../core/concepts.hpp"

namespace ecgssl::signal {

/// Per-lead z-score of x: [leads, samples]; statistics accumulated in double.
struct zscore {
  double epsilon = 1e-8;

  void apply(tensor<float, 2>& x, signal_context&) const {
    const std::size_t leads = x.shape()[0];
    const std::size_t n = x.shape()[1];
    if (n == 0) return;
    for (std::size_t l = 0; l < leads; ++l) {
      float* row = x.data() + l * n;
      double mean = 0.0;
      for (std::size_t t = 0; t < n; ++t) mean += row[t];
      mean /= static_cast<double>(n);
      double var = 0.0;
      for (std::size_t t = 0; t < n; ++t) var += (row[t] - mean) * (row[t] - mean);
      const double sd = std::sqrt(var / static_cast<double>(n));
      const double scale = sd < epsilon ? 0.0 : 1.0 / sd;
      for (std::size_t t = 0; t < n; ++t) row[t] = static_cast<float>((row[t] - mean) * scale);
    }
  }
};

}  // namespace ecgssl::signal

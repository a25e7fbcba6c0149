#pragma once
/// \file step_record.hpp
/// What a trainer reports after each optimizer update; every callback consumes this record.

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace ecgssl::pipeline {

/// One optimizer update as the callbacks see it.
struct step_record {
  std::int64_t step = 0;         ///< 1-based number of completed updates
  std::int64_t total_steps = 0;  ///< planned updates (0 = unknown)
  double loss = 0.0;             ///< the objective per spec §4.4 (per masked frame where W2V is on)
  std::vector<std::pair<std::string, double>> terms;  ///< named parts (w2v, cmsc, diversity, ...)
  double learning_rate = 0.0;
  double segments_per_second = 0.0;  ///< throughput of this update
  double elapsed_seconds = 0.0;      ///< since training started (excluding resumed time)
};

/// Formats a duration as "42s", "3m07s" or "1h02m".
inline std::string format_duration(double seconds) {
  if (!(seconds >= 0.0)) return "?";
  const auto total = static_cast<std::int64_t>(seconds + 0.5);
  const auto h = total / 3600;
  const auto m = (total % 3600) / 60;
  const auto s = total % 60;
  char buffer[32];
  if (h > 0) {
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", static_cast<long long>(h), static_cast<long long>(m));
  } else if (m > 0) {
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", static_cast<long long>(m), static_cast<long long>(s));
  } else {
    std::snprintf(buffer, sizeof buffer, "%llds", static_cast<long long>(s));
  }
  return buffer;
}

}  // namespace ecgssl::pipeline

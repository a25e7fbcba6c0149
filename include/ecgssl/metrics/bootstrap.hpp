#pragma once
/// \file bootstrap.hpp
/// Confidence intervals over records by the percentile bootstrap (Efron & Tibshirani 1993,
/// ch. 13): the metric is recomputed on `resamples` samples of the n records drawn with
/// replacement, and the interval is the (1 - level) / 2 and (1 + level) / 2 quantiles of those
/// values (linear interpolation between order statistics, numpy's default "linear" method).
///
/// The draws are CPython's: resample b takes n indices `rng.randrange(n)` in order from one
/// `random.Random(seed)` (io/python_random.hpp), so a few lines of Python reproduce every
/// interval exactly (tools/make_bootstrap_fixture.py does, for the tests).
///
/// A resample on which the metric is undefined (NaN: an AUROC for a class that has no positive
/// record in it) is left out, and counted; the interval is NaN if fewer than half of the
/// resamples give a value.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "../core/error.hpp"
#include "../io/python_random.hpp"

namespace ecgssl::metrics {

/// A statistic with its bootstrap interval.
struct bootstrap_interval {
  double estimate = std::numeric_limits<double>::quiet_NaN();  ///< the metric on all records
  double low = std::numeric_limits<double>::quiet_NaN();
  double high = std::numeric_limits<double>::quiet_NaN();
  std::size_t resamples = 0;  ///< drawn
  std::size_t undefined = 0;  ///< left out: the metric was NaN on them
};

/// The `q` quantile (0 <= q <= 1) of `sorted` (ascending, non-empty), linear between order
/// statistics: position q (m - 1).
inline double quantile_of_sorted(std::span<const double> sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

/// The resampled record indices of one bootstrap run: `resamples` rows of n indices each,
/// as CPython draws them (row-major, [resamples][n]).
inline std::vector<std::uint32_t> bootstrap_indices(std::size_t n, std::size_t resamples, std::uint64_t seed) {
  if (n == 0 || n >= (std::size_t{1} << 32)) throw config_error(at_field("bootstrap"), std::to_string(n) + " records", "1 to 2^32 - 1 records");
  io::python_random rng;
  rng.seed(seed);
  std::vector<std::uint32_t> indices(n * resamples);
  for (auto& i : indices) i = rng.randbelow(n);
  return indices;
}

/// The interval of `metric` over n records: `metric(std::span<const std::uint32_t> records)`
/// returns the statistic on those records (repeats count as often as they occur); it is called
/// once on 0..n-1 for the estimate, then once per resample.
template <class Metric>
bootstrap_interval bootstrap(std::size_t n, Metric&& metric, std::size_t resamples, std::uint64_t seed, double level = 0.95) {
  if (!(level > 0.0 && level < 1.0)) throw config_error(at_field("level"), std::to_string(level), "a confidence level between 0 and 1");
  if (resamples < 2) throw config_error(at_field("bootstrap"), std::to_string(resamples) + " resamples", "at least 2 (1000 or more for a 95% interval)");
  bootstrap_interval out;
  std::vector<std::uint32_t> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = static_cast<std::uint32_t>(i);
  out.estimate = metric(std::span<const std::uint32_t>(all));
  const auto indices = bootstrap_indices(n, resamples, seed);
  std::vector<double> values;
  values.reserve(resamples);
  for (std::size_t b = 0; b < resamples; ++b) {
    const double v = metric(std::span<const std::uint32_t>(indices.data() + b * n, n));
    if (std::isnan(v)) {
      ++out.undefined;
    } else {
      values.push_back(v);
    }
  }
  out.resamples = resamples;
  if (values.size() * 2 < resamples) return out;
  std::sort(values.begin(), values.end());
  out.low = quantile_of_sorted(values, (1.0 - level) / 2.0);
  out.high = quantile_of_sorted(values, (1.0 + level) / 2.0);
  return out;
}

/// As bootstrap, for a metric that returns several statistics at once (a
/// `std::vector<double>` of a fixed length k, e.g. every column of a results table): one
/// interval per statistic, from the same resamples. A statistic's NaN leaves out that resample
/// for that statistic only.
template <class Metrics>
std::vector<bootstrap_interval> bootstrap_each(std::size_t n, Metrics&& metric, std::size_t resamples, std::uint64_t seed,
                                               double level = 0.95) {
  std::vector<std::vector<double>> values;
  std::size_t k = 0;
  std::vector<bootstrap_interval> out;
  const auto collect = [&](std::span<const std::uint32_t> records) {
    const std::vector<double> v = metric(records);
    if (out.empty()) {
      k = v.size();
      out.resize(k);
      values.resize(k);
      for (std::size_t i = 0; i < k; ++i) out[i].estimate = v[i];
      return 0.0;
    }
    if (v.size() != k) throw shape_error(at_field("bootstrap metric"), std::to_string(v.size()) + " values", std::to_string(k) + " each time");
    for (std::size_t i = 0; i < k; ++i) {
      if (std::isnan(v[i])) ++out[i].undefined;
      else values[i].push_back(v[i]);
    }
    return 0.0;
  };
  (void)bootstrap(n, collect, resamples, seed, level);  // the estimate first, then each resample, in order
  for (std::size_t i = 0; i < k; ++i) {
    out[i].resamples = resamples;
    if (values[i].size() * 2 < resamples) continue;
    std::sort(values[i].begin(), values[i].end());
    out[i].low = quantile_of_sorted(values[i], (1.0 - level) / 2.0);
    out[i].high = quantile_of_sorted(values[i], (1.0 + level) / 2.0);
  }
  return out;
}

/// Mean and interval over independent runs (fine-tuning seeds): the mean, and mean -/+ t s /
/// sqrt(k) with Student's t quantile for k - 1 degrees of freedom at 95% (k >= 2; the table
/// holds k - 1 = 1..30, above that the normal quantile 1.96).
struct seed_summary {
  double mean = std::numeric_limits<double>::quiet_NaN();
  double low = std::numeric_limits<double>::quiet_NaN();
  double high = std::numeric_limits<double>::quiet_NaN();
  double sd = std::numeric_limits<double>::quiet_NaN();  ///< sample standard deviation (k - 1)
  std::size_t runs = 0;
};

inline seed_summary summarize_runs(std::span<const double> values) {
  // Two-sided 95% quantiles t_{0.975, df} for df = 1..30 (standard tables).
  static constexpr double t975[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                      2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                      2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  seed_summary s;
  s.runs = values.size();
  if (values.empty()) return s;
  double sum = 0;
  for (const double v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  if (values.size() < 2) return s;
  double squares = 0;
  for (const double v : values) squares += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(squares / static_cast<double>(values.size() - 1));
  const std::size_t df = values.size() - 1;
  const double t = df <= 30 ? t975[df - 1] : 1.96;
  const double half = t * s.sd / std::sqrt(static_cast<double>(values.size()));
  s.low = s.mean - half;
  s.high = s.mean + half;
  return s;
}

}  // namespace ecgssl::metrics

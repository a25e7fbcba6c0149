#pragma once
/// \file resample.hpp
/// Resampling x: [leads, samples] from ctx.sampling_frequency to a target rate.
///
/// Two methods:
///  - polyphase (default): rational up/down = target/source reduced by their gcd, an
///    anti-aliasing windowed-sinc low-pass (Kaiser window, beta 5, `zero_crossings` sinc lobes on
///    each side of the longer of the two rates' periods, cut-off at the lower Nyquist frequency)
///    evaluated polyphase, so only the taps that meet non-zero (non-stuffed) samples are
///    computed. Output sample n lies at input time n * down / up, and
///        output length = ceil(samples * up / down)
///    (the rule of scipy.signal.resample_poly). Beyond the ends the signal is held at its first /
///    last value, so a DC offset (common in ECG) does not ring at the edges. The result equals
///    scipy.signal.resample_poly(x, up, down, window=('kaiser', 5.0), padtype='edge') to float
///    rounding (tested on real ECG).
///  - linear: the reference's optional `--resample` of spec §2.2: input sample k is placed at
///    position k * (L * r - 1) / (L - 1) with r = target/source and L = samples, and the
///    piecewise-linear interpolant is read at the integer points 0, 1, ..., so
///        output length = floor(L * r)
///    (no anti-aliasing; the time axis is stretched by (L r - 1) / (r (L - 1)), as in the
///    reference). Kept for reproducing that preprocessing; not used in the paper.
///
/// Rates must be rational with up, down <= max_factor after reduction; integer rates (360, 500,
/// 1000, 257 Hz) always are. Rates are read to 1e-3 Hz.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <numeric>
#include <numbers>
#include <string>
#include <vector>

#include "../core/concepts.hpp"
#include "../core/error.hpp"

namespace ecgssl::signal {

enum class resample_method { polyphase, linear };

namespace detail {

/// Reduced up/down factors for source -> target rates given to 1e-3 Hz.
inline std::pair<std::int64_t, std::int64_t> rational_factors(double source, double target,
                                                              std::int64_t max_factor) {
  auto as_millihertz = [](double hz, const char* field) {
    if (!(std::isfinite(hz) && hz > 0.0 && hz < 1e9)) {
      throw config_error(at_field(field), "sampling frequency " + std::to_string(hz) + " Hz",
                         "a positive, finite rate in Hz");
    }
    const double scaled = hz * 1000.0;
    const double rounded = std::round(scaled);
    if (std::abs(scaled - rounded) > 1e-9 * std::max(1.0, scaled)) {
      throw config_error(at_field(field), "sampling frequency " + std::to_string(hz) + " Hz is not a multiple of 1 mHz",
                         "a rate given to at most three decimals");
    }
    return static_cast<std::int64_t>(rounded);
  };
  const std::int64_t from = as_millihertz(source, "sampling_frequency");
  const std::int64_t to = as_millihertz(target, "target_frequency");
  const std::int64_t g = std::gcd(from, to);
  const std::int64_t up = to / g;
  const std::int64_t down = from / g;
  if (up > max_factor || down > max_factor) {
    throw config_error(at_field("target_frequency"),
                       "resampling " + std::to_string(source) + " Hz -> " + std::to_string(target) +
                           " Hz needs factors " + std::to_string(up) + "/" + std::to_string(down),
                       "rates whose reduced ratio has up and down factors <= " + std::to_string(max_factor));
  }
  return {up, down};
}

/// Kaiser-windowed sinc low-pass for up/down resampling; taps[k], k = 0..2*centre, sums to `up`.
struct polyphase_filter {
  std::int64_t up = 1;
  std::int64_t down = 1;
  std::int64_t centre = 0;
  std::vector<double> taps;

  polyphase_filter(std::int64_t up_factor, std::int64_t down_factor, int zero_crossings, double beta)
      : up(up_factor), down(down_factor) {
    const std::int64_t m = std::max(up, down);
    centre = static_cast<std::int64_t>(zero_crossings) * m;
    const std::int64_t length = 2 * centre + 1;
    taps.resize(static_cast<std::size_t>(length));
    const double i0_beta = std::cyl_bessel_i(0.0, beta);
    double sum = 0.0;
    for (std::int64_t k = 0; k < length; ++k) {
      const double x = static_cast<double>(k - centre) / static_cast<double>(m);
      const double sinc = x == 0.0 ? 1.0 : std::sin(std::numbers::pi * x) / (std::numbers::pi * x);
      const double r = static_cast<double>(2 * k) / static_cast<double>(length - 1) - 1.0;
      const double window = std::cyl_bessel_i(0.0, beta * std::sqrt(std::max(0.0, 1.0 - r * r))) / i0_beta;
      taps[static_cast<std::size_t>(k)] = sinc * window;
      sum += sinc * window;
    }
    for (auto& t : taps) t *= static_cast<double>(up) / sum;
  }
};

/// Filters shared by copies of one resample transform (thread-safe, designed once per ratio).
struct filter_cache {
  std::mutex mutex;
  std::vector<std::shared_ptr<const polyphase_filter>> filters;

  std::shared_ptr<const polyphase_filter> get(std::int64_t up, std::int64_t down, int zero_crossings,
                                              double beta) {
    std::lock_guard lock(mutex);
    for (const auto& f : filters) {
      if (f->up == up && f->down == down) return f;
    }
    filters.push_back(std::make_shared<const polyphase_filter>(up, down, zero_crossings, beta));
    return filters.back();
  }
};

}  // namespace detail

/// Resampling transform; updates ctx.sampling_frequency to the target rate.
class resample {
 public:
  explicit resample(double target_frequency, resample_method method = resample_method::polyphase,
                    int zero_crossings = 10, double kaiser_beta = 5.0, std::int64_t max_factor = 4096)
      : target_(target_frequency),
        method_(method),
        zero_crossings_(zero_crossings),
        beta_(kaiser_beta),
        max_factor_(max_factor),
        cache_(std::make_shared<detail::filter_cache>()) {
    if (!(std::isfinite(target_) && target_ > 0.0)) {
      throw config_error(at_field("target_frequency"), std::to_string(target_) + " Hz", "a positive rate in Hz");
    }
    if (zero_crossings_ < 1) {
      throw config_error(at_field("zero_crossings"), std::to_string(zero_crossings_), "at least 1");
    }
  }

  /// Number of output samples for `samples` input samples at `source` Hz (rules above).
  [[nodiscard]] std::size_t output_length(std::size_t samples, double source) const {
    if (method_ == resample_method::linear) {
      return static_cast<std::size_t>(std::floor(static_cast<double>(samples) * target_ / source + 1e-9));
    }
    const auto [up, down] = detail::rational_factors(source, target_, max_factor_);
    const auto n = static_cast<std::int64_t>(samples);
    return static_cast<std::size_t>((n * up + down - 1) / down);
  }

  void apply(tensor<float, 2>& x, signal_context& ctx) const {
    const double source = ctx.sampling_frequency;
    const std::size_t leads = x.shape()[0];
    const std::size_t n = x.shape()[1];
    if (n == 0) throw shape_error(at_field("x"), "no samples to resample", "at least one sample");
    if (method_ == resample_method::linear) {
      apply_linear(x, source, leads, n);
    } else {
      const auto [up, down] = detail::rational_factors(source, target_, max_factor_);
      if (up != down) apply_polyphase(x, *cache_->get(up, down, zero_crossings_, beta_), leads, n);
    }
    ctx.sampling_frequency = target_;
  }

  [[nodiscard]] double target_frequency() const { return target_; }
  [[nodiscard]] resample_method method() const { return method_; }

 private:
  void apply_polyphase(tensor<float, 2>& x, const detail::polyphase_filter& f, std::size_t leads,
                       std::size_t n) const {
    const auto in_length = static_cast<std::int64_t>(n);
    const std::int64_t out_length = (in_length * f.up + f.down - 1) / f.down;
    tensor<float, 2> y = tensor<float, 2>::from_shape({leads, static_cast<std::size_t>(out_length)});
    for (std::size_t l = 0; l < leads; ++l) {
      const float* in = x.data() + l * n;
      float* out = y.data() + l * static_cast<std::size_t>(out_length);
      for (std::int64_t j = 0; j < out_length; ++j) {
        const std::int64_t p = j * f.down;  // position on the upsampled grid
        // Input samples i with 0 <= centre + p - i*up <= 2*centre.
        const std::int64_t first = floor_div(p - f.centre + f.up - 1, f.up);
        const std::int64_t last = floor_div(p + f.centre, f.up);
        double acc = 0.0;
        for (std::int64_t i = first; i <= last; ++i) {
          const std::int64_t clamped = std::clamp<std::int64_t>(i, 0, in_length - 1);  // hold the ends
          acc += f.taps[static_cast<std::size_t>(f.centre + p - i * f.up)] * static_cast<double>(in[clamped]);
        }
        out[j] = static_cast<float>(acc);
      }
    }
    x = std::move(y);
  }

  void apply_linear(tensor<float, 2>& x, double source, std::size_t leads, std::size_t n) const {
    if (n < 2) throw shape_error(at_field("x"), "one sample cannot be interpolated", "at least two samples");
    const double ratio = target_ / source;
    const double span = static_cast<double>(n) * ratio - 1.0;  // position of the last input sample
    const std::size_t out_length = output_length(n, source);
    const double step = span / static_cast<double>(n - 1);      // spacing of input samples
    tensor<float, 2> y = tensor<float, 2>::from_shape({leads, out_length});
    for (std::size_t t = 0; t < out_length; ++t) {
      const double u = static_cast<double>(t) / step;  // fractional input index
      auto k = static_cast<std::size_t>(std::floor(u));
      if (k >= n - 1) k = n - 2;
      const double w = u - static_cast<double>(k);
      for (std::size_t l = 0; l < leads; ++l) {
        const float* in = x.data() + l * n;
        y(l, t) = static_cast<float>((1.0 - w) * in[k] + w * in[k + 1]);
      }
    }
    x = std::move(y);
  }

  static std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
  }

  double target_;
  resample_method method_;
  int zero_crossings_;
  double beta_;
  std::int64_t max_factor_;
  std::shared_ptr<detail::filter_cache> cache_;
};

}  // namespace ecgssl::signal

#pragma once
/// \file band_pass.hpp
/// Zero-phase Butterworth band-pass (or high-/low-pass) filtering: a cascade of second-order
/// sections designed by the bilinear transform with pre-warped corners, run forward and then
/// backward (as scipy.signal.filtfilt), so the phase cancels and the magnitude response is
///     |H(f)|^2 = 1 / (1 + (tan(pi f/fs) / tan(pi fh/fs))^(2N)) * 1 / (1 + (tan(pi fl/fs) / tan(pi f/fs))^(2N))
/// for low corner fl, high corner fh and order N per side. The ends are handled like
/// scipy.signal.sosfiltfilt: the signal is extended by odd reflection (3 * (2 * sections + 1 -
/// first-order sections) samples, at most samples - 1) and each pass starts from the sections'
/// steady state for its first sample. The result equals sosfiltfilt over the same cascade
/// (butter(N, fh, 'lowpass') then butter(N, fl, 'highpass')) to float rounding (tested on real ECG).
/// Not used by the paper (spec §2.2: no filtering), offered for other pipelines.

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "../core/concepts.hpp"
#include "../core/error.hpp"

namespace ecgssl::signal {

namespace detail {

/// One section y = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2), direct form II transposed.
struct biquad {
  double b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0;

  /// Runs the section over data in place, starting from the steady state of input data[0].
  void run(double* data, std::size_t n) const {
    if (n == 0) return;
    const double x0 = data[0];
    const double dc = (b0 + b1 + b2) / (1.0 + a1 + a2);
    const double y0 = dc * x0;
    double z2 = b2 * x0 - a2 * y0;
    double z1 = y0 - b0 * x0;
    for (std::size_t t = 0; t < n; ++t) {
      const double x = data[t];
      const double y = b0 * x + z1;
      z1 = b1 * x - a1 * y + z2;
      z2 = b2 * x - a2 * y;
      data[t] = y;
    }
  }
};

/// Butterworth sections of order `order` at corner `corner_hz`, low-pass or high-pass.
inline std::size_t butterworth_sections(int order, double corner_hz, double fs, bool high_pass,
                                        biquad* out) {
  const double k = std::tan(std::numbers::pi * corner_hz / fs);
  std::size_t count = 0;
  for (int j = 1; j <= order / 2; ++j) {
    // Pole pair at angle theta_j from the negative real axis: 1/Q = 2 sin((2j - 1) pi / (2N)).
    const double inv_q = 2.0 * std::sin((2.0 * j - 1.0) * std::numbers::pi / (2.0 * order));
    const double norm = 1.0 / (1.0 + k * inv_q + k * k);
    biquad s;
    if (high_pass) {
      s.b0 = norm;
      s.b1 = -2.0 * norm;
      s.b2 = norm;
    } else {
      s.b0 = k * k * norm;
      s.b1 = 2.0 * k * k * norm;
      s.b2 = k * k * norm;
    }
    s.a1 = 2.0 * (k * k - 1.0) * norm;
    s.a2 = (1.0 - k * inv_q + k * k) * norm;
    out[count++] = s;
  }
  if (order % 2 == 1) {  // the real pole: a first-order section
    biquad s;
    const double norm = 1.0 / (1.0 + k);
    if (high_pass) {
      s.b0 = norm;
      s.b1 = -norm;
    } else {
      s.b0 = k * norm;
      s.b1 = k * norm;
    }
    s.a1 = (k - 1.0) * norm;
    out[count++] = s;
  }
  return count;
}

}  // namespace detail

/// Zero-phase Butterworth filter of x: [leads, samples] at ctx.sampling_frequency.
/// `low_hz` = 0 disables the high-pass side, `high_hz` = 0 the low-pass side.
class band_pass {
 public:
  static constexpr int max_order = 16;

  band_pass(double low_hz, double high_hz, int order = 2) : low_(low_hz), high_(high_hz), order_(order) {
    if (order_ < 1 || order_ > max_order) {
      throw config_error(at_field("order"), std::to_string(order_), "an order in 1.." + std::to_string(max_order));
    }
    if (!(low_ >= 0.0) || !(high_ >= 0.0) || (low_ == 0.0 && high_ == 0.0) || (high_ > 0.0 && low_ >= high_)) {
      throw config_error(at_field("band"), "corners " + std::to_string(low_) + " Hz, " + std::to_string(high_) + " Hz",
                         "0 <= low < high (0 disables a side; not both)");
    }
  }

  /// Squared magnitude of the forward-backward response at f Hz (the design formula above).
  [[nodiscard]] double power_response(double f, double fs) const {
    double g = 1.0;
    const double w = std::tan(std::numbers::pi * f / fs);
    if (high_ > 0.0) g /= 1.0 + std::pow(w / std::tan(std::numbers::pi * high_ / fs), 2 * order_);
    if (low_ > 0.0) g /= 1.0 + std::pow(std::tan(std::numbers::pi * low_ / fs) / w, 2 * order_);
    return g;
  }

  void apply(tensor<float, 2>& x, signal_context& ctx) const {
    const double fs = ctx.sampling_frequency;
    if (high_ > 0.0 && !(high_ < fs / 2.0)) {
      throw config_error(at_field("high_hz"), std::to_string(high_) + " Hz at " + std::to_string(fs) + " Hz sampling",
                         "a corner below the Nyquist frequency " + std::to_string(fs / 2.0) + " Hz");
    }
    if (low_ > 0.0 && !(low_ < fs / 2.0)) {
      throw config_error(at_field("low_hz"), std::to_string(low_) + " Hz at " + std::to_string(fs) + " Hz sampling",
                         "a corner below the Nyquist frequency " + std::to_string(fs / 2.0) + " Hz");
    }
    std::array<detail::biquad, max_order + 2> sections{};
    std::size_t count = 0;
    if (high_ > 0.0) count += detail::butterworth_sections(order_, high_, fs, false, sections.data() + count);
    if (low_ > 0.0) count += detail::butterworth_sections(order_, low_, fs, true, sections.data() + count);

    const std::size_t leads = x.shape()[0];
    const std::size_t n = x.shape()[1];
    if (n < 2) return;
    // scipy's sosfiltfilt rule: 3 * (2 * sections + 1 - first-order sections), capped at n - 1.
    const std::size_t first_order = (order_ % 2 == 1) ? (high_ > 0.0) + (low_ > 0.0) : 0;
    const std::size_t pad = std::min<std::size_t>(3 * (2 * count + 1 - first_order), n - 1);
    thread_local std::vector<double> work;  // reused across calls: no allocation per record
    work.resize(n + 2 * pad);
    for (std::size_t l = 0; l < leads; ++l) {
      float* row = x.data() + l * n;
      // Odd reflection about both ends: 2 x[0] - x[pad - i], ..., 2 x[n-1] - x[n-2-i].
      for (std::size_t i = 0; i < pad; ++i) work[i] = 2.0 * row[0] - row[pad - i];
      for (std::size_t t = 0; t < n; ++t) work[pad + t] = row[t];
      for (std::size_t i = 0; i < pad; ++i) work[pad + n + i] = 2.0 * row[n - 1] - row[n - 2 - i];
      double* data = work.data();
      const std::size_t total = work.size();
      for (std::size_t s = 0; s < count; ++s) sections[s].run(data, total);
      std::reverse(work.begin(), work.end());
      for (std::size_t s = 0; s < count; ++s) sections[s].run(data, total);
      std::reverse(work.begin(), work.end());
      for (std::size_t t = 0; t < n; ++t) row[t] = static_cast<float>(work[pad + t]);
    }
  }

 private:
  double low_;
  double high_;
  int order_;
};

}  // namespace ecgssl::signal

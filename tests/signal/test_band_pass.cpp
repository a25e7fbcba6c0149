#include <ecgssl/core/concepts.hpp>
#include <ecgssl/signal/band_pass.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

using ecgssl::signal_context;
using ecgssl::tensor;
using ecgssl::signal::band_pass;

static_assert(ecgssl::signal_transform<band_pass>);

namespace {
constexpr double pi = std::numbers::pi;

// Squared magnitude of an order-n Butterworth pair designed by the bilinear transform with
// pre-warping, run forward and backward: written out here from the textbook formula.
double design_power(double f, double fs, double low, double high, int n) {
  const double w = std::tan(pi * f / fs);
  double g = 1.0;
  if (high > 0) g *= 1.0 / (1.0 + std::pow(w / std::tan(pi * high / fs), 2 * n));
  if (low > 0) g *= 1.0 / (1.0 + std::pow(std::tan(pi * low / fs) / w, 2 * n));
  return g;
}

// Least-squares amplitude of the cos and sin parts at f over [begin, end).
std::pair<double, double> fit(const tensor<float, 2>& y, double f, double fs, std::size_t begin, std::size_t end) {
  double cc = 0, ss = 0, cs = 0, yc = 0, ys = 0;
  for (std::size_t t = begin; t < end; ++t) {
    const double c = std::cos(2 * pi * f * t / fs), s = std::sin(2 * pi * f * t / fs);
    cc += c * c;
    ss += s * s;
    cs += c * s;
    yc += y(0, t) * c;
    ys += y(0, t) * s;
  }
  const double det = cc * ss - cs * cs;
  return {(yc * ss - ys * cs) / det, (ys * cc - yc * cs) / det};
}

void check_response(const band_pass& filter, double low, double high, int order) {
  const double fs = 500;
  const std::size_t n = 5000;
  for (double f : {0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 35.0, 40.0, 45.0, 60.0, 100.0, 200.0}) {
    tensor<float, 2> x = tensor<float, 2>::from_shape({1, n});
    for (std::size_t t = 0; t < n; ++t) x(0, t) = static_cast<float>(std::cos(2 * pi * f * t / fs));
    signal_context ctx;
    ctx.sampling_frequency = fs;
    filter.apply(x, ctx);
    const auto [c, s] = fit(x, f, fs, 1500, 3500);
    const double expected = design_power(f, fs, low, high, order);
    CHECK_MESSAGE(c == doctest::Approx(expected).epsilon(2e-3), "f = " << f);
    CHECK_MESSAGE(std::abs(s) < 2e-3, "zero phase at f = " << f);  // no quadrature part
    CHECK(filter.power_response(f, fs) == doctest::Approx(expected));
  }
}
}  // namespace

TEST_CASE("band-pass magnitude follows the Butterworth design and the phase is zero") {
  check_response(band_pass(0.5, 40.0, 2), 0.5, 40.0, 2);
  check_response(band_pass(1.0, 45.0, 3), 1.0, 45.0, 3);
}

TEST_CASE("one-sided filters: low-pass only and high-pass only") {
  check_response(band_pass(0.0, 40.0, 4), 0.0, 40.0, 4);
  check_response(band_pass(0.5, 0.0, 1), 0.5, 0.0, 1);
}

TEST_CASE("high-pass removes a DC offset over the whole record including the ends") {
  tensor<float, 2> x = tensor<float, 2>::from_shape({2, 2000});
  for (std::size_t t = 0; t < 2000; ++t) {
    x(0, t) = 3.0f;
    x(1, t) = static_cast<float>(std::cos(2 * pi * 10.0 * t / 500.0));
  }
  signal_context ctx;
  band_pass(0.5, 40.0, 2).apply(x, ctx);
  for (std::size_t t = 0; t < 2000; ++t) CHECK(std::abs(x(0, t)) < 1e-4);
}

TEST_CASE("band-pass rejects impossible corners") {
  CHECK_THROWS_AS(band_pass(40.0, 0.5), ecgssl::config_error);
  CHECK_THROWS_AS(band_pass(0.0, 0.0), ecgssl::config_error);
  CHECK_THROWS_AS(band_pass(0.5, 40.0, 0), ecgssl::config_error);
  tensor<float, 2> x = tensor<float, 2>::from_shape({1, 100});
  signal_context ctx;
  ctx.sampling_frequency = 60.0;
  CHECK_THROWS_AS(band_pass(0.5, 40.0).apply(x, ctx), ecgssl::config_error);
}

#include "support/npy.hpp"

TEST_CASE("band-pass filtering of real ECG matches scipy sosfiltfilt") {
  // tools/gen_band_pass_fixture.py: MIT-BIH 208 (360 Hz, 10 s), Butterworth low-pass + high-pass.
  const std::string dir = std::string(ECGSSL_TEST_DATA_DIR) + "/signal/";
  const auto input = ecgssl::testing::read_npy(dir + "resample_mitdb208_360hz.npy");
  struct setting {
    const char* name;
    double low, high;
    int order;
  };
  for (const auto& s : {setting{"o2_0p5_40", 0.5, 40.0, 2}, setting{"o3_1_45", 1.0, 45.0, 3}}) {
    const auto expected = ecgssl::testing::read_npy(dir + "band_pass_mitdb208_" + s.name + ".npy");
    tensor<float, 2> x = tensor<float, 2>::from_shape({1, input.size()});
    for (std::size_t t = 0; t < input.size(); ++t) x(0, t) = static_cast<float>(input.values[t]);
    signal_context ctx;
    ctx.sampling_frequency = 360.0;
    band_pass(s.low, s.high, s.order).apply(x, ctx);
    REQUIRE(expected.size() == input.size());
    double worst = 0;
    for (std::size_t t = 0; t < expected.size(); ++t) worst = std::max(worst, std::abs(x(0, t) - expected.values[t]));
    // measured: 6e-8 (float rounding), edges included
    CHECK_MESSAGE(worst < 1e-5, std::string(s.name) << ": differs from scipy by " << worst);
  }
}

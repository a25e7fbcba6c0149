#include <ecgssl/core/concepts.hpp>
#include <ecgssl/signal/resample.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

using ecgssl::signal_context;
using ecgssl::tensor;
using ecgssl::signal::resample;
using ecgssl::signal::resample_method;

static_assert(ecgssl::signal_transform<resample>);

namespace {
constexpr double pi = std::numbers::pi;

tensor<float, 2> tone(double f, double fs, std::size_t n, double phase = 0.3) {
  tensor<float, 2> x = tensor<float, 2>::from_shape({1, n});
  for (std::size_t t = 0; t < n; ++t) x(0, t) = static_cast<float>(std::cos(2 * pi * f * static_cast<double>(t) / fs + phase));
  return x;
}

// Largest deviation of y (at rate fs_out) from amplitude * cos(2 pi f t / fs_out + phase) away from the ends.
double max_error(const tensor<float, 2>& y, double f, double fs_out, double amplitude, std::size_t margin,
                 double phase = 0.3) {
  double worst = 0;
  for (std::size_t t = margin; t + margin < y.shape()[1]; ++t) {
    const double expected = amplitude * std::cos(2 * pi * f * static_cast<double>(t) / fs_out + phase);
    worst = std::max(worst, std::abs(y(0, t) - expected));
  }
  return worst;
}

double interior_peak(const tensor<float, 2>& y, std::size_t margin) {
  double peak = 0;
  for (std::size_t t = margin; t + margin < y.shape()[1]; ++t) peak = std::max(peak, std::abs(double(y(0, t))));
  return peak;
}

tensor<float, 2> run(const resample& r, tensor<float, 2> x, double fs) {
  signal_context ctx;
  ctx.sampling_frequency = fs;
  r.apply(x, ctx);
  CHECK(ctx.sampling_frequency == r.target_frequency());
  return x;
}
}  // namespace

TEST_CASE("polyphase 1000 to 500 Hz keeps the pass band and removes what would alias") {
  const resample r(500.0);
  for (double f : {1.0, 5.0, 50.0, 100.0, 150.0, 190.0}) {
    const auto y = run(r, tone(f, 1000, 4000), 1000);
    REQUIRE(y.shape()[1] == 2000);
    // Kaiser(beta 5) ripple is ~1e-3 (measured 5.6e-4 at 190 Hz); allow 2e-3 of the unit amplitude.
    CHECK_MESSAGE(max_error(y, f, 500, 1.0, 40) < 2e-3, "f = " << f);
  }
  for (double f : {310.0, 350.0, 400.0, 480.0}) {
    const auto y = run(r, tone(f, 1000, 4000), 1000);
    // Above the new Nyquist (250 Hz) past the transition band: at least 50 dB down.
    CHECK_MESSAGE(interior_peak(y, 40) < 3.2e-3, "f = " << f);
  }
}

TEST_CASE("polyphase 360 to 500 Hz reproduces tones on the new grid") {
  const resample r(500.0);
  for (double f : {2.0, 17.0, 60.0, 120.0}) {
    const auto y = run(r, tone(f, 360, 3600), 360);
    REQUIRE(y.shape()[1] == 5000);  // ceil(3600 * 25 / 18)
    CHECK_MESSAGE(max_error(y, f, 500, 1.0, 60) < 3e-3, "f = " << f);
  }
}

TEST_CASE("polyphase upsampling 250 to 500 Hz suppresses the spectral images") {
  const resample r(500.0);
  const auto y = run(r, tone(80.0, 250, 1000), 250);
  REQUIRE(y.shape()[1] == 2000);
  // An unfiltered zero-stuffing would leave an image at 250 - 80 = 170 Hz of equal size.
  CHECK(max_error(y, 80.0, 500, 1.0, 60) < 5e-3);
}

TEST_CASE("polyphase output length is ceil(n * up / down) and a DC level survives at the ends") {
  const resample r(500.0);
  CHECK(r.output_length(2501, 1000) == 1251);
  CHECK(r.output_length(2500, 1000) == 1250);
  CHECK(r.output_length(7, 360) == 10);  // 7 * 25 / 18 = 9.72
  CHECK(r.output_length(257, 500) == 257);
  tensor<float, 2> dc = tensor<float, 2>::from_shape({2, 301});
  dc.fill(0.75f);
  const auto y = run(r, dc, 1000);
  REQUIRE(y.shape()[1] == 151);
  for (auto v : y) CHECK(v == doctest::Approx(0.75).epsilon(2e-3));
  tensor<float, 2> same = tone(3.0, 500, 50);
  const auto copy = same;
  CHECK(run(r, same, 500) == copy);
}

TEST_CASE("linear method follows the reference interpolation rule") {
  const resample r(500.0, resample_method::linear);
  // 4 samples at 250 Hz: r = 2, inputs at positions 0, 7/3, 14/3, 7; outputs at 0..7 (floor(4 * 2) = 8).
  tensor<float, 2> x = {{0.f, 3.f, 6.f, 3.f}};
  const auto y = run(r, x, 250);
  REQUIRE(y.shape()[1] == 8);
  const double expected[] = {0.0, 9.0 / 7, 18.0 / 7, 27.0 / 7, 36.0 / 7, 6.0 - 3.0 * (5 - 14.0 / 3) / (7.0 / 3),
                             6.0 - 3.0 * (6 - 14.0 / 3) / (7.0 / 3), 3.0};
  for (std::size_t t = 0; t < 8; ++t) CHECK(y(0, t) == doctest::Approx(expected[t]).epsilon(1e-6));
  CHECK(r.output_length(5000, 1000) == 2500);
  CHECK(r.output_length(7, 360) == 9);  // floor(9.72)
}

TEST_CASE("resampling rejects rates it cannot represent") {
  signal_context ctx;
  ctx.sampling_frequency = 500.0001;
  auto x = tone(1.0, 500, 10);
  CHECK_THROWS_AS(resample(250.0).apply(x, ctx), ecgssl::config_error);
  ctx.sampling_frequency = 1000.0;
  CHECK_THROWS_AS(resample(999.999, resample_method::polyphase, 10, 5.0, 100).apply(x, ctx), ecgssl::config_error);
  CHECK_THROWS_AS(resample(-1.0), ecgssl::config_error);
  ctx.sampling_frequency = 0.0;
  CHECK_THROWS_AS(resample(500.0).apply(x, ctx), ecgssl::config_error);
}

#include "support/npy.hpp"

TEST_CASE("polyphase resampling of real ECG matches scipy resample_poly") {
  // tools/gen_resample_fixture.py: MIT-BIH 208 (360 Hz, 10 s) through scipy.signal.resample_poly
  // with window ('kaiser', 5.0) and padtype 'edge'.
  const std::string dir = std::string(ECGSSL_TEST_DATA_DIR) + "/signal/";
  const auto input = ecgssl::testing::read_npy(dir + "resample_mitdb208_360hz.npy");
  REQUIRE(input.size() == 3600);
  for (const double target : {500.0, 250.0}) {
    const auto expected = ecgssl::testing::read_npy(dir + "resample_mitdb208_" + std::to_string(int(target)) + "hz.npy");
    tensor<float, 2> x = tensor<float, 2>::from_shape({1, input.size()});
    for (std::size_t t = 0; t < input.size(); ++t) x(0, t) = static_cast<float>(input.values[t]);
    const auto y = run(resample(target), x, 360);
    REQUIRE(y.shape()[1] == expected.size());
    double worst = 0;  // measured: 1e-7 (float rounding), edges included
    for (std::size_t t = 0; t < expected.size(); ++t) worst = std::max(worst, std::abs(y(0, t) - expected.values[t]));
    CHECK_MESSAGE(worst < 1e-5, "target " << target << " Hz: differs from scipy by " << worst);
  }
}

TEST_CASE("linear resampling of real ECG matches the reference's scipy interp1d rule") {
  const std::string dir = std::string(ECGSSL_TEST_DATA_DIR) + "/signal/";
  const auto input = ecgssl::testing::read_npy(dir + "resample_mitdb208_360hz.npy");
  const auto expected = ecgssl::testing::read_npy(dir + "resample_mitdb208_500hz_linear.npy");
  tensor<float, 2> x = tensor<float, 2>::from_shape({1, input.size()});
  for (std::size_t t = 0; t < input.size(); ++t) x(0, t) = static_cast<float>(input.values[t]);
  const auto y = run(resample(500.0, resample_method::linear), x, 360);
  REQUIRE(y.shape()[1] == expected.size());  // floor(3600 * 500 / 360) = 5000
  double worst = 0;
  for (std::size_t t = 0; t < expected.size(); ++t) worst = std::max(worst, std::abs(y(0, t) - expected.values[t]));
  CHECK(worst < 1e-5);
}

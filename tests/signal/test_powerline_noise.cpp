#include <ecgssl/signal/powerline_noise.hpp>

#include "physio_support.hpp"

#include <numbers>

using namespace ecgssl::signal;
using physio_test::run;

namespace {
// Amplitude and phase of y's component at f Hz (500 Hz sampling, 2500 samples = whole cycles).
std::pair<double, double> component(const ecgssl::tensor<float, 2>& x, std::size_t lead, double f) {
  double c = 0, s = 0;
  const std::size_t n = x.shape()[1];
  for (std::size_t t = 0; t < n; ++t) {
    const double w = 2 * std::numbers::pi * f * t / 500.0;
    c += x(lead, t) * std::cos(w);
    s += x(lead, t) * std::sin(w);
  }
  return {2 * std::hypot(c, s) / n, std::atan2(-s, c)};
}
}  // namespace

TEST_CASE("powerline noise: one amplitude U(0, max), 50 or 60 Hz with probability 1/2, uniform phase") {
  const powerline_noise noise;  // max_amplitude 0.1, random 50/60 Hz
  int fifty = 0;
  double amplitude_sum = 0, amplitude_max = 0, cos_phase_sum = 0;
  const int trials = 2000;
  for (int s = 0; s < trials; ++s) {
    const auto x = run(noise, static_cast<std::uint64_t>(s));
    const auto [a50, p50] = component(x, 6, 50.0);
    const auto [a60, p60] = component(x, 6, 60.0);
    const bool is50 = a50 > a60;
    CHECK((is50 ? a60 : a50) < 1e-5);  // exactly one frequency
    fifty += is50;
    const double a = is50 ? a50 : a60;
    amplitude_sum += a;
    amplitude_max = std::max(amplitude_max, a);
    cos_phase_sum += std::cos(is50 ? p50 : p60);
    for (std::size_t l = 7; l < 12; ++l) CHECK(x(l, 17) == x(6, 17));  // same noise on every lead
    CHECK(x(0, 17) == x(6, 17));
    if (s < 20) physio_test::check_limb_leads_derived(x);
  }
  CHECK(std::abs(fifty - trials / 2) < 5 * 23);                     // binomial sd 22.4
  CHECK(amplitude_sum / trials == doctest::Approx(0.05).epsilon(0.04));  // sd of mean 6.5e-4
  CHECK(amplitude_max <= 0.1 + 1e-6);
  CHECK(amplitude_max > 0.095);
  CHECK(std::abs(cos_phase_sum / trials) < 0.08);  // sd 0.016
}

TEST_CASE("powerline noise at a fixed 50 Hz and the common augmentation contract") {
  const powerline_noise fixed({}, powerline_frequency::hz50);
  for (int s = 0; s < 20; ++s) {
    const auto x = run(fixed, static_cast<std::uint64_t>(s));
    CHECK(component(x, 7, 60.0).first < 1e-5);
  }
  physio_options never;
  never.probability = 0.0;
  physio_options independent;
  independent.dependency = false;
  physio_test::check_common_contract(powerline_noise(), powerline_noise(never), powerline_noise(independent));
  physio_options bad;
  bad.min_amplitude = 0.2;
  CHECK_THROWS_AS(powerline_noise{bad}, ecgssl::config_error);
}

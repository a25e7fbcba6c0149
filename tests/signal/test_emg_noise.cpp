#include <ecgssl/signal/emg_noise.hpp>

#include "physio_support.hpp"

using namespace ecgssl::signal;
using physio_test::run;

TEST_CASE("EMG noise: white Gaussian noise with a per-lead amplitude U(0, max)") {
  const emg_noise noise;
  std::vector<double> amplitudes;
  double kurtosis_sum = 0;
  const int trials = 400;
  for (int s = 0; s < trials; ++s) {
    const auto x = run(noise, static_cast<std::uint64_t>(s));
    for (std::size_t l = 6; l < 12; ++l) {  // precordial leads keep their own noise
      double m2 = 0, m4 = 0, m1 = 0;
      for (std::size_t t = 0; t < 2500; ++t) m1 += x(l, t);
      m1 /= 2500;
      for (std::size_t t = 0; t < 2500; ++t) {
        const double d = x(l, t) - m1;
        m2 += d * d;
        m4 += d * d * d * d;
      }
      m2 /= 2500;
      m4 /= 2500;
      amplitudes.push_back(std::sqrt(m2));
      if (m2 > 1e-6) kurtosis_sum += m4 / (m2 * m2);
      CHECK(std::abs(m1) < 5 * 0.1 / 50 + 1e-6);  // zero mean: sd of mean <= 0.1 / sqrt(2500)
    }
    if (s < 10) physio_test::check_limb_leads_derived(x);
  }
  const double count = static_cast<double>(amplitudes.size());
  double mean = 0, var = 0, maximum = 0;
  for (double a : amplitudes) mean += a / count;
  for (double a : amplitudes) {
    var += (a - mean) * (a - mean) / count;
    maximum = std::max(maximum, a);
  }
  CHECK(mean == doctest::Approx(0.05).epsilon(0.05));                    // U(0, 0.1): mean 0.05
  CHECK(std::sqrt(var) == doctest::Approx(0.1 / std::sqrt(12.0)).epsilon(0.08));  // sd 0.0289
  CHECK(maximum < 0.1 * 1.06);
  CHECK(kurtosis_sum / count == doctest::Approx(3.0).epsilon(0.02));  // Gaussian
}

TEST_CASE("EMG noise: common augmentation contract") {
  physio_options never;
  never.probability = 0.0;
  physio_options independent;
  independent.dependency = false;
  physio_test::check_common_contract(emg_noise(), emg_noise(never), emg_noise(independent));
}

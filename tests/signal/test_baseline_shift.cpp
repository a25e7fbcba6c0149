#include <ecgssl/signal/baseline_shift.hpp>

#include "physio_support.hpp"

using namespace ecgssl::signal;
using physio_test::run;

TEST_CASE("baseline shift: one span of length N(0.2T, (0.04T)^2) offset by +-1 - a per lead") {
  const baseline_shift shift;  // a ~ U(0, 0.1), T = 2500: length mean 500, sd 100
  const int trials = 3000;
  double length_sum = 0, length_sq = 0, start_sum = 0, a_sum = 0, a_max = 0;
  int positive = 0, signs = 0;
  for (int s = 0; s < trials; ++s) {
    const auto x = run(shift, static_cast<std::uint64_t>(s));
    // The span: where V1 is non-zero; it must be one contiguous run shared by all leads 6..11.
    std::size_t begin = 2500, end = 0;
    for (std::size_t t = 0; t < 2500; ++t) {
      if (x(6, t) != 0.0f) {
        begin = std::min(begin, t);
        end = t + 1;
      }
    }
    REQUIRE(end > begin);
    bool constant = true;
    for (std::size_t t = begin; t < end; ++t) constant = constant && x(6, t) == x(6, begin);
    CHECK(constant);
    const double length = static_cast<double>(end - begin);
    length_sum += length;
    length_sq += length * length;
    start_sum += static_cast<double>(begin);
    double a_seen = -1;
    for (std::size_t l = 6; l < 12; ++l) {
      CHECK(x(l, begin) != 0.0f);
      if (begin > 0) CHECK(x(l, begin - 1) == 0.0f);
      if (end < 2500) CHECK(x(l, end) == 0.0f);
      const double v = x(l, begin);
      const double sign = v > 0 ? 1.0 : -1.0;
      positive += v > 0;
      ++signs;
      const double a = sign - v;  // v = sign - a
      CHECK(a >= -1e-6);
      CHECK(a <= 0.1 + 1e-6);
      if (a_seen >= 0) CHECK(a == doctest::Approx(a_seen).epsilon(1e-5));  // one a for all leads
      a_seen = a;
    }
    a_sum += a_seen;
    a_max = std::max(a_max, a_seen);
    if (s < 10) physio_test::check_limb_leads_derived(x);
  }
  const double mean = length_sum / trials;
  const double sd = std::sqrt(length_sq / trials - mean * mean);
  CHECK(mean == doctest::Approx(500.0).epsilon(0.015));  // sd of mean 1.8 samples
  CHECK(sd == doctest::Approx(100.0).epsilon(0.06));
  CHECK(start_sum / trials == doctest::Approx(1000.0).epsilon(0.04));  // E[U (T - len)] = 1000
  CHECK(std::abs(positive - signs / 2) < 5 * 67);                      // binomial sd 67
  CHECK(a_sum / trials == doctest::Approx(0.05).epsilon(0.04));
  CHECK(a_max > 0.095);
}

TEST_CASE("baseline shift: common augmentation contract") {
  physio_options never;
  never.probability = 0.0;
  physio_options independent;
  independent.dependency = false;
  physio_test::check_common_contract(baseline_shift(), baseline_shift(never), baseline_shift(independent));
  CHECK_THROWS_AS(baseline_shift({}, 0.0), ecgssl::config_error);
}

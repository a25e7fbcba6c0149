#include <ecgssl/signal/baseline_wander.hpp>

#include "physio_support.hpp"

using namespace ecgssl::signal;
using physio_test::run;

TEST_CASE("baseline wander: shared slow waveform scaled by C_l ~ N(1, 0.5^2) per lead") {
  // n_l(t) = C_l g(t), g = sum of 3 cosines with a_k ~ U(0, m), uniform phases:
  // E[g^2] = 3 * (m^2 / 3) / 2 = m^2 / 2, E[C^2] = 1.25, E[C_l C_j] = 1 (l != j). So
  // E[n_l^2] = 0.625 m^2 and E[n_l n_j] = 0.5 m^2.
  const baseline_wander wander;  // m = 0.1
  const int trials = 3000;
  double square_sum = 0, cross_sum = 0, square_count = 0, cross_count = 0;
  for (int s = 0; s < trials; ++s) {
    const auto x = run(wander, static_cast<std::uint64_t>(s));
    for (std::size_t t : {0u, 1250u, 2499u}) {
      for (std::size_t l = 6; l < 12; ++l) {
        square_sum += double(x(l, t)) * x(l, t);
        square_count += 1;
        for (std::size_t j = l + 1; j < 12; ++j) {
          cross_sum += double(x(l, t)) * x(j, t);
          cross_count += 1;
        }
      }
    }
    // Rank one across leads: n_6(t) n_7(u) = n_6(u) n_7(t).
    CHECK(double(x(6, 100)) * x(7, 2000) == doctest::Approx(double(x(6, 2000)) * x(7, 100)).epsilon(1e-4).scale(1e-6));
    // Slow: the steepest possible slope is |C| * 3 * m * 2 pi * 0.2 / 500 per sample.
    if (s < 50) {
      double max_step = 0, max_level = 0;
      for (std::size_t t = 1; t < 2500; ++t) {
        max_step = std::max(max_step, std::abs(double(x(6, t)) - x(6, t - 1)));
        max_level = std::max(max_level, std::abs(double(x(6, t))));
      }
      const double c_bound = 5.0;  // |C| < 1 + 8 sd of N(1, 0.5^2)
      CHECK(max_level < c_bound * 3 * 0.1);
      CHECK(max_step <= c_bound * 3 * 0.1 * 2 * 3.14159265 * 0.2 / 500);
      physio_test::check_limb_leads_derived(x);
    }
  }
  const double m2 = 0.01;
  CHECK(square_sum / square_count == doctest::Approx(0.625 * m2).epsilon(0.1));
  CHECK(cross_sum / cross_count == doctest::Approx(0.5 * m2).epsilon(0.1));
  CHECK((square_sum / square_count) / (cross_sum / cross_count) == doctest::Approx(1.25).epsilon(0.06));
}

TEST_CASE("baseline wander: common augmentation contract") {
  physio_options never;
  never.probability = 0.0;
  physio_options independent;
  independent.dependency = false;
  physio_test::check_common_contract(baseline_wander(), baseline_wander(never), baseline_wander(independent));
  CHECK_THROWS_AS(baseline_wander({}, 0), ecgssl::config_error);
  CHECK_THROWS_AS(baseline_wander({}, 3, 0.3, 0.2), ecgssl::config_error);
}

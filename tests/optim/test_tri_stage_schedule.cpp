#include <ecgssl/core/concepts.hpp>
#include <ecgssl/optim/tri_stage_schedule.hpp>

#include <doctest/doctest.h>

#include <support/npy.hpp>

#include <array>
#include <cmath>
#include <string>

using namespace ecgssl;

static_assert(schedule<tri_stage_schedule>);

TEST_CASE("tri_stage_schedule matches the fixture script's formula for 100 updates") {
  const auto expected = testing::read_npy(std::string(ECGSSL_TEST_DATA_DIR) + "/optim/schedules_lr.npy");
  const auto s = tri_stage_schedule(0.05, 10, 20, 50, 0.01, 0.02);
  for (std::size_t u = 0; u < 100; ++u) {
    CHECK(s.learning_rate(static_cast<std::int64_t>(u)) == doctest::Approx(expected.values[u * 4 + 1]).epsilon(1e-12));
  }
}

TEST_CASE("tri_stage_schedule with the spec's identification settings") {
  // spec §5: peak 3e-5, phase ratios 0.1/0.2/0.7 of 320000, init and final scale 0.01.
  const auto s = tri_stage_schedule::from_phase_ratios(3e-5, 320000, {0.1, 0.2, 0.7});
  CHECK(s.phases() == std::array<std::int64_t, 3>{32000, 64000, 224000});
  CHECK(s.learning_rate(0) == doctest::Approx(3e-7));
  CHECK(s.learning_rate(16000) == doctest::Approx(3e-7 + (3e-5 - 3e-7) / 2));
  CHECK(s.learning_rate(32000) == doctest::Approx(3e-5));
  CHECK(s.learning_rate(95999) == doctest::Approx(3e-5));
  CHECK(s.learning_rate(96000 + 112000) == doctest::Approx(3e-5 * 0.1));  // half-way: sqrt(0.01)
  CHECK(s.learning_rate(320000) == doctest::Approx(3e-7));
  CHECK(s.learning_rate(400000) == doctest::Approx(3e-7));
  CHECK_THROWS_AS(tri_stage_schedule::from_phase_ratios(1, 10, {0.5, 0.2, 0.2}), config_error);
  CHECK_THROWS_AS(tri_stage_schedule(1, -1, 0, 0), config_error);
}

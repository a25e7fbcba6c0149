#include <ecgssl/core/concepts.hpp>
#include <ecgssl/optim/polynomial_decay_schedule.hpp>

#include <doctest/doctest.h>

#include <support/npy.hpp>

#include <cmath>
#include <string>

using namespace ecgssl;

static_assert(schedule<polynomial_decay_schedule>);

TEST_CASE("polynomial_decay_schedule matches the fixture script's formula for 100 updates") {
  const auto expected = testing::read_npy(std::string(ECGSSL_TEST_DATA_DIR) + "/optim/schedules_lr.npy");
  const auto s = polynomial_decay_schedule{0.05, 10, 90, 1e-4, 2.0};
  for (std::size_t u = 0; u < 100; ++u) {
    CHECK(s.learning_rate(static_cast<std::int64_t>(u)) == doctest::Approx(expected.values[u * 4 + 2]).epsilon(1e-12));
  }
}

TEST_CASE("polynomial_decay_schedule by hand and bad settings") {
  const polynomial_decay_schedule linear{1.0, 0, 10, 0.0, 1.0};
  CHECK(linear.learning_rate(0) == 1.0);
  CHECK(linear.learning_rate(5) == doctest::Approx(0.5));
  CHECK(linear.learning_rate(10) == 0.0);
  const polynomial_decay_schedule bad{1.0, 10, 10, 0.0, 1.0};
  CHECK_THROWS_AS((void)bad.learning_rate(0), config_error);
}

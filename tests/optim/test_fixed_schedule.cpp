#include <ecgssl/core/concepts.hpp>
#include <ecgssl/optim/fixed_schedule.hpp>

#include <doctest/doctest.h>

#include <support/npy.hpp>

#include <cmath>
#include <string>

using namespace ecgssl;

static_assert(schedule<fixed_schedule>);

TEST_CASE("fixed_schedule matches the fixture script's formula for 100 updates") {
  const auto expected = testing::read_npy(std::string(ECGSSL_TEST_DATA_DIR) + "/optim/schedules_lr.npy");
  const auto s = fixed_schedule{0.05, 5};
  for (std::size_t u = 0; u < 100; ++u) {
    CHECK(s.learning_rate(static_cast<std::int64_t>(u)) == doctest::Approx(expected.values[u * 4 + 0]).epsilon(1e-12));
  }
}

TEST_CASE("fixed_schedule without warm-up is constant (spec §5: 5e-5)") {
  const fixed_schedule s{};
  CHECK(s.learning_rate(0) == 5e-5);
  CHECK(s.learning_rate(123456) == 5e-5);
  const fixed_schedule w{1.0, 4};
  CHECK(w.learning_rate(0) == 0.25);
  CHECK(w.learning_rate(3) == 1.0);
}

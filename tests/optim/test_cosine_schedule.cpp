#include <ecgssl/core/concepts.hpp>
#include <ecgssl/optim/cosine_schedule.hpp>

#include <doctest/doctest.h>

#include <support/npy.hpp>

#include <cmath>
#include <string>

using namespace ecgssl;

static_assert(schedule<cosine_schedule>);

TEST_CASE("cosine_schedule matches the fixture script's formula for 100 updates") {
  const auto expected = testing::read_npy(std::string(ECGSSL_TEST_DATA_DIR) + "/optim/schedules_lr.npy");
  const auto s = cosine_schedule{0.05, 10, 100, 1e-4};
  for (std::size_t u = 0; u < 100; ++u) {
    CHECK(s.learning_rate(static_cast<std::int64_t>(u)) == doctest::Approx(expected.values[u * 4 + 3]).epsilon(1e-12));
  }
}

TEST_CASE("cosine_schedule by hand") {
  const cosine_schedule s{1.0, 0, 4, 0.0};
  CHECK(s.learning_rate(0) == 1.0);
  CHECK(s.learning_rate(2) == doctest::Approx(0.5));
  CHECK(s.learning_rate(4) == doctest::Approx(0.0));
  CHECK(s.learning_rate(100) == doctest::Approx(0.0));
}

#include <ecgssl/core/threading.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

TEST_CASE("parallel_for visits every index once") {
  std::vector<int> hits(1000, 0);
  ecgssl::parallel_for(1000, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)] += 1; });
  for (int h : hits) CHECK(h == 1);
}

TEST_CASE("deterministic_sum is bit-identical across thread counts") {
  std::vector<float> values(100003);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 1.0f / static_cast<float>(i + 1);
  const int original = ecgssl::max_threads();
  ecgssl::set_threads(1);
  const double one = ecgssl::deterministic_sum(std::span<const float>(values));
  ecgssl::set_threads(2);
  const double two = ecgssl::deterministic_sum(std::span<const float>(values));
  ecgssl::set_threads(3);
  const double three = ecgssl::deterministic_sum(std::span<const float>(values));
  ecgssl::set_threads(original);
  CHECK(std::memcmp(&one, &two, sizeof one) == 0);
  CHECK(std::memcmp(&one, &three, sizeof one) == 0);
  // Harmonic number H_n ~ ln n + gamma + 1/(2n).
  CHECK(one == doctest::Approx(std::log(100003.0) + 0.5772156649 + 1.0 / 200006.0).epsilon(1e-6));
}

TEST_CASE("sums of integers are exact") {
  std::vector<double> values(50000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i);
  CHECK(ecgssl::deterministic_sum(std::span<const double>(values)) == 49999.0 * 50000.0 / 2.0);
  CHECK(ecgssl::deterministic_sum_of_squares(std::span<const double>(values)) ==
        49999.0 * 50000.0 * 99999.0 / 6.0);
}

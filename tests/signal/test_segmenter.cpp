#include <ecgssl/signal/segmenter.hpp>

#include <doctest/doctest.h>

using ecgssl::tensor;
using ecgssl::signal::segmenter;

TEST_CASE("records split into complete non-overlapping segments, tail dropped") {
  const segmenter five_seconds = segmenter::of_duration(5.0, 500.0);
  CHECK(five_seconds.length() == 2500);
  CHECK(five_seconds.count(5000) == 2);  // 10 s
  CHECK(five_seconds.count(6000) == 2);  // 12 s: last 2 s dropped
  CHECK(five_seconds.count(2499) == 0);
  CHECK(five_seconds.count(57500) == 23);

  const segmenter three(3);
  tensor<int, 2> x = {{0, 1, 2, 3, 4, 5, 6, 7}, {10, 11, 12, 13, 14, 15, 16, 17}};
  const auto parts = three.split(x);
  REQUIRE(parts.size() == 2);
  const tensor<int, 2> second = {{3, 4, 5}, {13, 14, 15}};
  CHECK(parts[1] == second);
  tensor<int, 2> out;
  CHECK_THROWS_AS(three.extract(x, 2, out), ecgssl::shape_error);
  CHECK_THROWS_AS(segmenter::of_duration(5.0, 333.3333), ecgssl::config_error);
  CHECK_THROWS_AS(segmenter(0), ecgssl::config_error);
}

#include <ecgssl/pipeline/logs/step_record.hpp>

#include <doctest/doctest.h>

TEST_CASE("durations read like a person would write them") {
  using ecgssl::pipeline::format_duration;
  CHECK(format_duration(0.0) == "0s");
  CHECK(format_duration(42.4) == "42s");
  CHECK(format_duration(187.0) == "3m07s");
  CHECK(format_duration(3720.0) == "1h02m");
  CHECK(format_duration(-1.0) == "?");
}

#include <ecgssl/signal/require_finite.hpp>

#include <doctest/doctest.h>

#include <limits>

using ecgssl::signal_context;
using ecgssl::tensor;
using ecgssl::signal::require_finite;

static_assert(ecgssl::signal_transform<require_finite>);

TEST_CASE("non-finite samples are rejected with their lead and position") {
  tensor<float, 2> x = {{1.f, 2.f}, {3.f, 4.f}};
  signal_context ctx;
  require_finite{}.apply(x, ctx);  // fine
  x(1, 1) = std::numeric_limits<float>::quiet_NaN();
  try {
    require_finite{}.apply(x, ctx);
    FAIL("expected data_error");
  } catch (const ecgssl::data_error& e) {
    CHECK(std::string(e.what()).find("lead 1, sample 1") != std::string::npos);
    CHECK(std::string(e.what()).find("NaN") != std::string::npos);
  }
  x(1, 1) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(require_finite{}.apply(x, ctx), ecgssl::data_error);
}

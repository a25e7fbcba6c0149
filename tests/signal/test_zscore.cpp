#include <ecgssl/signal/zscore.hpp>

#include <doctest/doctest.h>

using ecgssl::signal_context;
using ecgssl::tensor;
using ecgssl::signal::zscore;

static_assert(ecgssl::signal_transform<zscore>);

TEST_CASE("per-lead z-score uses each lead's own mean and population std") {
  // Lead 0: mean 2.5, population variance 1.25; lead 1 flat -> zeros.
  tensor<float, 2> x = {{1.f, 2.f, 3.f, 4.f}, {7.f, 7.f, 7.f, 7.f}};
  signal_context ctx;
  zscore{}.apply(x, ctx);
  const double sd = std::sqrt(1.25);
  CHECK(x(0, 0) == doctest::Approx(-1.5 / sd));
  CHECK(x(0, 3) == doctest::Approx(1.5 / sd));
  for (std::size_t t = 0; t < 4; ++t) CHECK(x(1, t) == 0.0f);
}

#include <ecgssl/signal/to_millivolts.hpp>

#include <doctest/doctest.h>

using ecgssl::signal_context;
using ecgssl::tensor;
using ecgssl::signal::to_millivolts;

static_assert(ecgssl::signal_transform<to_millivolts>);

TEST_CASE("ADC units become millivolts per lead") {
  tensor<float, 2> x = {{-1000.f, 250.f}, {1024.f, 1224.f}};
  signal_context ctx;
  to_millivolts({1000.0, 200.0}, {0.0, 1024.0}).apply(x, ctx);
  CHECK(x(0, 0) == doctest::Approx(-1.0));
  CHECK(x(0, 1) == doctest::Approx(0.25));
  CHECK(x(1, 0) == doctest::Approx(0.0));
  CHECK(x(1, 1) == doctest::Approx(1.0));  // scipy's MIT-BIH 208 excerpt: (1224 - 1024) / 200
}

TEST_CASE("bad gains and lead counts are reported") {
  CHECK_THROWS_AS(to_millivolts({1000.0, 0.0}), ecgssl::data_error);
  CHECK_THROWS_AS(to_millivolts({1000.0}, {0.0, 1.0}), ecgssl::config_error);
  tensor<float, 2> x = tensor<float, 2>::from_shape({3, 2});
  signal_context ctx;
  CHECK_THROWS_AS(to_millivolts({1.0, 1.0}).apply(x, ctx), ecgssl::shape_error);
}

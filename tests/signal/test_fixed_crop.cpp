#include <ecgssl/signal/fixed_crop.hpp>

#include <doctest/doctest.h>

using ecgssl::signal_context;
using ecgssl::tensor;
using ecgssl::signal::fixed_crop;

static_assert(ecgssl::signal_transform<fixed_crop>);

TEST_CASE("a fixed crop keeps the requested window") {
  tensor<float, 2> x = {{0.f, 1.f, 2.f, 3.f}, {4.f, 5.f, 6.f, 7.f}};
  signal_context ctx;
  fixed_crop(2, 2).apply(x, ctx);
  const tensor<float, 2> expected = {{2.f, 3.f}, {6.f, 7.f}};
  CHECK(x == expected);
  CHECK_THROWS_AS(fixed_crop(1, 2).apply(x, ctx), ecgssl::shape_error);
}

#include <ecgssl/signal/derive_limb_leads.hpp>

#include <doctest/doctest.h>

using ecgssl::signal_context;
using ecgssl::tensor;
using ecgssl::signal::derive_limb_leads;

static_assert(ecgssl::signal_transform<derive_limb_leads>);

TEST_CASE("the transform re-derives the four limb leads") {
  tensor<float, 2> x = tensor<float, 2>::from_shape({12, 1});
  x.fill(0.f);
  x(0, 0) = 1.0f;   // I
  x(1, 0) = -2.0f;  // II
  signal_context ctx;
  derive_limb_leads{}.apply(x, ctx);
  CHECK(x(2, 0) == -3.0f);  // II - I
  CHECK(x(3, 0) == 0.5f);   // -(I + II)/2
  CHECK(x(4, 0) == 2.0f);   // I - II/2
  CHECK(x(5, 0) == -2.5f);  // II - I/2
}

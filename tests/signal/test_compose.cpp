#include <ecgssl/core/archetypes.hpp>
#include <ecgssl/signal/compose.hpp>
#include <ecgssl/signal/fixed_crop.hpp>
#include <ecgssl/signal/random_crop.hpp>
#include <ecgssl/signal/to_millivolts.hpp>

#include <doctest/doctest.h>

using ecgssl::random_stream;
using ecgssl::signal_context;
using ecgssl::tensor;
using namespace ecgssl::signal;

using pipeline = compose<to_millivolts, fixed_crop, ecgssl::archetypes::signal_transform_archetype>;
static_assert(ecgssl::signal_transform<pipeline>);
static_assert(ecgssl::signal_transform<compose<>>);

TEST_CASE("compose applies its stages in order") {
  pipeline p(to_millivolts({1000.0, 500.0}, {0.0, 100.0}), fixed_crop(1, 2),
             ecgssl::archetypes::signal_transform_archetype{2.0f});
  tensor<float, 2> x = {{1000.f, 2000.f, 3000.f, 4000.f}, {100.f, 600.f, 1100.f, 1600.f}};
  signal_context ctx;
  p.apply(x, ctx);
  // (x - baseline) / gain, then samples 1..2, then times 2.
  const tensor<float, 2> expected = {{4.f, 6.f}, {2.f, 4.f}};
  CHECK(x == expected);
  CHECK(p.stage<2>().gain == 2.0f);
}

TEST_CASE("each stage gets its own random stream and the caller's stream is restored") {
  compose<random_crop, random_crop> twice(random_crop(1000), random_crop(10));
  signal_context ctx;
  ctx.rng = random_stream(5, 77);
  tensor<float, 2> x = tensor<float, 2>::from_shape({1, 2000});
  for (std::size_t t = 0; t < 2000; ++t) x(0, t) = static_cast<float>(t);
  twice.apply(x, ctx);
  CHECK(ctx.rng.stream() == 77u);
  REQUIRE(x.shape()[1] == 10);
  // Recompute the two starts from the documented sub-streams.
  const random_stream s0(5, ecgssl::stream_id({77, 0}));
  const random_stream s1(5, ecgssl::stream_id({77, 1}));
  const std::size_t first = s0.below(0, 1001);
  const std::size_t second = s1.below(0, 991);
  CHECK(x(0, 0) == static_cast<float>(first + second));
}

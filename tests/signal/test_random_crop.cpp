#include <ecgssl/signal/random_crop.hpp>

#include <doctest/doctest.h>

#include <vector>

using ecgssl::random_stream;
using ecgssl::signal_context;
using ecgssl::tensor;
using ecgssl::signal::random_crop;

static_assert(ecgssl::signal_transform<random_crop>);

TEST_CASE("random crops are uniform over every start and reproducible per stream") {
  const random_crop crop(3);
  std::vector<int> hits(5, 0);  // 7 samples -> starts 0..4
  for (std::uint64_t s = 0; s < 5000; ++s) {
    tensor<float, 2> x = {{0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {10.f, 11.f, 12.f, 13.f, 14.f, 15.f, 16.f}};
    signal_context ctx;
    ctx.rng = random_stream(9, s);
    crop.apply(x, ctx);
    REQUIRE(x.shape()[1] == 3);
    const auto start = static_cast<std::size_t>(x(0, 0));
    CHECK(x(0, 2) == static_cast<float>(start + 2));
    CHECK(x(1, 0) == static_cast<float>(start + 10));
    ++hits[start];
    CHECK(start == crop.start(7, random_stream(9, s)));
  }
  for (int h : hits) CHECK(std::abs(h - 1000) < 150);  // binomial sd 28
}

TEST_CASE("a record shorter than the crop is an error") {
  tensor<float, 2> x = tensor<float, 2>::from_shape({1, 2});
  signal_context ctx;
  CHECK_THROWS_AS(random_crop(3).apply(x, ctx), ecgssl::shape_error);
}

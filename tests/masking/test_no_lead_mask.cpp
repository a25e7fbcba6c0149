#include <ecgssl/core/concepts.hpp>
#include <ecgssl/masking/no_lead_mask.hpp>

#include <doctest/doctest.h>

using ecgssl::random_stream;
using ecgssl::tensor;
using ecgssl::masking::no_lead_mask;

static_assert(ecgssl::masking_policy<no_lead_mask>);

TEST_CASE("no_lead_mask keeps every lead untouched") {
  tensor<float, 2> x = {{1.f, 2.f}, {3.f, 4.f}, {5.f, 6.f}};
  const auto copy = x;
  CHECK(no_lead_mask{}.apply(x, random_stream(1, 2)) == 7u);
  CHECK(x == copy);
  tensor<float, 2> twelve = tensor<float, 2>::from_shape({12, 1});
  CHECK(no_lead_mask{}.apply(twelve, random_stream(1, 2)) == 0xFFFu);
}

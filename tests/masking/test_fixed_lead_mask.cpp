#include <ecgssl/core/concepts.hpp>
#include <ecgssl/masking/fixed_lead_mask.hpp>

#include <doctest/doctest.h>

using ecgssl::random_stream;
using ecgssl::tensor;
using ecgssl::masking::fixed_lead_mask;

static_assert(ecgssl::masking_policy<fixed_lead_mask>);

TEST_CASE("a fixed lead mask keeps the named leads and zeroes the others") {
  const fixed_lead_mask mask("3");
  tensor<float, 2> x = tensor<float, 2>::from_shape({12, 2});
  x.fill(2.5f);
  const auto kept = mask.apply(x, random_stream(0, 0));
  CHECK(kept == ((1u << 0) | (1u << 1) | (1u << 7)));
  for (std::size_t l = 0; l < 12; ++l) {
    const bool keep = l == 0 || l == 1 || l == 7;
    CHECK(x(l, 0) == (keep ? 2.5f : 0.0f));
    CHECK(x(l, 1) == (keep ? 2.5f : 0.0f));
  }
  CHECK(fixed_lead_mask("I,aVF").leads().to_string() == "I,aVF");
}

TEST_CASE("a fixed lead mask needs 12-lead input and a valid name") {
  tensor<float, 2> x = tensor<float, 2>::from_shape({6, 2});
  CHECK_THROWS_AS(fixed_lead_mask("2").apply(x, random_stream(0, 0)), ecgssl::shape_error);
  CHECK_THROWS_AS(fixed_lead_mask("I,X"), ecgssl::config_error);
}

#pragma once
// Helpers shared by the Physio augmentation tests (not a test file itself).

#include <ecgssl/core/concepts.hpp>

#include <doctest/doctest.h>

#include <cmath>

namespace physio_test {

inline ecgssl::tensor<float, 2> zeros(std::size_t leads = 12, std::size_t samples = 2500) {
  ecgssl::tensor<float, 2> x = ecgssl::tensor<float, 2>::from_shape({leads, samples});
  x.fill(0.0f);
  return x;
}

template <class Transform>
ecgssl::tensor<float, 2> run(const Transform& t, std::uint64_t seed, std::uint64_t stream = 3,
                             std::size_t leads = 12, std::size_t samples = 2500) {
  auto x = zeros(leads, samples);
  ecgssl::signal_context ctx;
  ctx.sampling_frequency = 500.0;
  ctx.rng = ecgssl::random_stream(seed, stream);
  t.apply(x, ctx);
  return x;
}

/// III = II - I, aVR = -(I + II)/2, aVL = I - II/2, aVF = II - I/2 hold at every sample.
inline void check_limb_leads_derived(const ecgssl::tensor<float, 2>& x) {
  for (std::size_t t = 0; t < x.shape()[1]; t += 97) {
    const double i = x(0, t), ii = x(1, t);
    CHECK(x(2, t) == doctest::Approx(ii - i).epsilon(1e-5));
    CHECK(x(3, t) == doctest::Approx(-(i + ii) / 2).epsilon(1e-5));
    CHECK(x(4, t) == doctest::Approx(i - ii / 2).epsilon(1e-5));
    CHECK(x(5, t) == doctest::Approx(ii - i / 2).epsilon(1e-5));
  }
}

/// Same stream -> same output; other seed -> other output; probability 0 -> untouched;
/// dependency on fewer than 12 leads -> shape_error.
template <class Transform>
void check_common_contract(const Transform& with_default, const Transform& never, const Transform& independent) {
  static_assert(ecgssl::signal_transform<Transform>);
  CHECK(run(with_default, 1) == run(with_default, 1));
  CHECK(run(with_default, 1) != run(with_default, 2));
  CHECK(run(with_default, 1, 3) != run(with_default, 1, 4));
  CHECK(run(never, 1) == zeros());
  auto three = zeros(3, 100);
  ecgssl::signal_context ctx;
  CHECK_THROWS_AS(with_default.apply(three, ctx), ecgssl::shape_error);
  CHECK(run(independent, 1, 3, 3, 100) != zeros(3, 100));
}

}  // namespace physio_test

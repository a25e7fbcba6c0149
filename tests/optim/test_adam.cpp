#include <ecgssl/core/archetypes.hpp>
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/optim/adam.hpp>

#include <doctest/doctest.h>

#include "optim_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

static_assert(update_policy<adam, float>);
static_assert(update_policy<adam, double>);

namespace {
adam spec_adam(adam_variant variant) {
  adam rule;
  rule.beta1 = 0.9;
  rule.beta2 = 0.98;
  rule.eps = 1e-6;
  rule.weight_decay = 0.01;
  rule.variant = variant;
  return rule;
}
}  // namespace

TEST_CASE("adam with the reference's semantics follows an independent reimplementation for 100 steps") {
  CHECK(worst_over_schedules(spec_adam(adam_variant::fairseq), "adam_fairseq") < 1e-6);
}

TEST_CASE("adam with the pytorch variant follows torch.optim.Adam for 100 steps") {
  CHECK(worst_over_schedules(spec_adam(adam_variant::pytorch), "adam_pytorch") < 1e-6);
}

TEST_CASE("adam's reference update by hand: eps on the un-corrected sqrt(v), decay before the step") {
  adam rule;
  rule.beta1 = 0.5;
  rule.beta2 = 0.75;
  rule.eps = 0.1;
  rule.weight_decay = 0.2;
  std::vector<double> p{1.0}, g{2.0}, m{0.0}, v{0.0};
  std::array<std::span<double>, 2> state{std::span<double>(m), std::span<double>(v)};
  rule.apply(std::span<double>(p), std::span<const double>(g), std::span<const std::span<double>>(state), 0.5, 1);
  // m = 1, v = 1, step = 0.5*sqrt(0.25)/0.5 = 0.5, p = 1 - 0.5*0.2*1 - 0.5 * 1/(1 + 0.1)
  CHECK(m[0] == doctest::Approx(1.0));
  CHECK(v[0] == doctest::Approx(1.0));
  CHECK(p[0] == doctest::Approx(1.0 - 0.1 - 0.5 / 1.1).epsilon(1e-14));
}

TEST_CASE("adam in float tracks the float64 trajectory closely") {
  parameter_store<float> store;
  setup_problem(store);
  optimizer<adam, fixed_schedule, float> opt(store, spec_adam(adam_variant::fairseq), fixed_schedule{0.05, 5});
  CHECK(replay(opt, store, "adam_fairseq_fixed") < 1e-4);
}

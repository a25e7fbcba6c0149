#include <ecgssl/core/concepts.hpp>
#include <ecgssl/optim/adamw.hpp>

#include <doctest/doctest.h>

#include "optim_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

static_assert(update_policy<adamw, float>);
static_assert(update_policy<adamw, double>);

TEST_CASE("adamw follows torch.optim.AdamW for 100 steps with every schedule") {
  adamw rule;
  rule.weight_decay = 0.05;
  CHECK(worst_over_schedules(rule, "adamw") < 1e-6);
}

TEST_CASE("adamw by hand: decoupled decay, bias-corrected denominator") {
  adamw rule;
  rule.beta1 = 0.5;
  rule.beta2 = 0.75;
  rule.eps = 0.1;
  rule.weight_decay = 0.2;
  std::vector<double> p{1.0}, g{2.0}, m{0.0}, v{0.0};
  std::array<std::span<double>, 2> state{std::span<double>(m), std::span<double>(v)};
  rule.apply(std::span<double>(p), std::span<const double>(g), std::span<const std::span<double>>(state), 0.5, 1);
  // p = 1·(1 - 0.1) - 0.5/0.5 · 1/(sqrt(1)/sqrt(0.25) + 0.1)
  CHECK(p[0] == doctest::Approx(0.9 - 1.0 / 2.1).epsilon(1e-14));
}

#include <ecgssl/core/concepts.hpp>
#include <ecgssl/optim/sgd.hpp>

#include <doctest/doctest.h>

#include "optim_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

static_assert(update_policy<sgd, float>);
static_assert(update_policy<sgd, double>);

TEST_CASE("sgd with Nesterov momentum follows torch.optim.SGD for 100 steps with every schedule") {
  sgd rule;
  rule.momentum = 0.9;
  rule.nesterov = true;
  rule.weight_decay = 1e-3;
  CHECK(worst_over_schedules(rule, "sgd_nesterov") < 1e-6);
}

TEST_CASE("sgd with momentum and dampening follows torch.optim.SGD for 100 steps with every schedule") {
  sgd rule;
  rule.momentum = 0.8;
  rule.dampening = 0.3;
  rule.weight_decay = 1e-3;
  CHECK(worst_over_schedules(rule, "sgd_dampening") < 1e-6);
}

TEST_CASE("sgd by hand: the first step copies the gradient into the buffer, later ones damp") {
  sgd rule;
  rule.momentum = 0.5;
  rule.dampening = 0.5;
  std::vector<double> p{1.0}, g{2.0}, b{0.0};
  std::array<std::span<double>, 1> state{std::span<double>(b)};
  rule.apply(std::span<double>(p), std::span<const double>(g), std::span<const std::span<double>>(state), 0.1, 1);
  CHECK(b[0] == 2.0);
  CHECK(p[0] == doctest::Approx(0.8));
  rule.apply(std::span<double>(p), std::span<const double>(g), std::span<const std::span<double>>(state), 0.1, 2);
  CHECK(b[0] == doctest::Approx(0.5 * 2.0 + 0.5 * 2.0));
  CHECK(p[0] == doctest::Approx(0.6));
  sgd plain;  // no momentum: p -= lr·(g + wd·p)
  plain.weight_decay = 0.5;
  std::vector<double> q{1.0};
  plain.apply(std::span<double>(q), std::span<const double>(g), std::span<const std::span<double>>(state), 0.1, 1);
  CHECK(q[0] == doctest::Approx(1.0 - 0.1 * 2.5));
}

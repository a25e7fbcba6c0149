// The gradient checker itself must catch a wrong gradient, or every gradient test is hollow.
#include <ecgssl/core/archetypes.hpp>

#include <doctest/doctest.h>

#include "support/gradient_check.hpp"

namespace {
struct wrong_gradient_layer : ecgssl::archetypes::layer_archetype {
  void backward(const output_type& dy, input_type& dx) {
    ecgssl::archetypes::layer_archetype::backward(dy, dx);
    dx *= 1.01;  // a 1% error in the input gradient
  }
};
}  // namespace

TEST_CASE("the gradient checker accepts a right gradient and rejects a wrong one") {
  ecgssl::tensor<double, 1> x = {0.3, -1.2, 2.0, 0.7};
  {
    ecgssl::parameter_store<double> store;
    ecgssl::archetypes::layer_archetype layer;
    layer.declare_parameters(store, "");
    store.allocate();
    layer.scale.value()[0] = 1.7;
    for (const auto& report : ecgssl::testing::check_layer(layer, store, x)) {
      CHECK_MESSAGE(report.max_relative_error < 1e-8, report.where);
    }
  }
  {
    ecgssl::parameter_store<double> store;
    wrong_gradient_layer layer;
    layer.declare_parameters(store, "");
    store.allocate();
    layer.scale.value()[0] = 1.7;
    const auto reports = ecgssl::testing::check_layer(layer, store, x);
    CHECK(reports[0].max_relative_error > 5e-3);
    CHECK(reports[1].max_relative_error < 1e-8);
  }
}

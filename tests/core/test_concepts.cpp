#include <ecgssl/core/archetypes.hpp>
#include <ecgssl/core/concepts.hpp>

#include <doctest/doctest.h>

namespace a = ecgssl::archetypes;

static_assert(ecgssl::layer<a::layer_archetype>);
static_assert(ecgssl::loss_function<a::loss_archetype>);
static_assert(ecgssl::update_policy<a::update_archetype, float>);
static_assert(ecgssl::update_policy<a::update_archetype, double>);
static_assert(ecgssl::schedule<a::schedule_archetype>);
static_assert(ecgssl::signal_transform<a::signal_transform_archetype>);
static_assert(ecgssl::masking_policy<a::masking_archetype>);

// The concepts reject types that miss part of the contract.
struct forward_only {
  using scalar_type = float;
  using backend_type = ecgssl::host;
  using input_type = ecgssl::tensor<float, 1>;
  using output_type = ecgssl::tensor<float, 1>;
  void forward(const input_type&, output_type&) {}
};
static_assert(!ecgssl::layer<forward_only>);
static_assert(!ecgssl::layer<int>);
static_assert(!ecgssl::schedule<a::layer_archetype>);
static_assert(!ecgssl::masking_policy<a::signal_transform_archetype>);

TEST_CASE("the layer archetype's backward is the derivative of its forward") {
  ecgssl::parameter_store<double> store;
  a::layer_archetype layer;
  layer.declare_parameters(store, "archetype.");
  store.allocate();
  layer.scale.value()[0] = 3.0;
  ecgssl::tensor<double, 1> x = {1.0, -2.0};
  ecgssl::tensor<double, 1> y;
  layer.forward(x, y);
  CHECK(y(1) == -6.0);
  ecgssl::tensor<double, 1> dy = {1.0, 1.0};
  ecgssl::tensor<double, 1> dx = xt::zeros<double>({2});
  layer.backward(dy, dx);
  CHECK(dx(0) == 3.0);
  CHECK(layer.scale.grad()[0] == -1.0);
  CHECK(store.find("archetype.scale") != nullptr);
}

TEST_CASE("the masking archetype keeps every lead") {
  ecgssl::tensor<float, 2> x = xt::ones<float>({12, 4});
  CHECK(a::masking_archetype{}.apply(x, ecgssl::random_stream(0, 0)) == 0xFFFu);
}

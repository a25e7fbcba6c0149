// nn::repeat: run-time depth, ModuleList-style names, finite differences, parity with a stack of
// residual feed-forward blocks in PyTorch.
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/nn/conv1d.hpp>
#include <ecgssl/nn/dropout.hpp>
#include <ecgssl/nn/gelu.hpp>
#include <ecgssl/nn/grad_scale.hpp>
#include <ecgssl/nn/linear.hpp>
#include <ecgssl/nn/repeat.hpp>
#include <ecgssl/nn/residual.hpp>
#include <ecgssl/nn/sequential.hpp>

#include <doctest/doctest.h>

#include "nn_test_support.hpp"

namespace nn = ecgssl::nn;
template <class T>
using ffn = nn::residual<nn::sequential<nn::linear<T>, nn::gelu<T>, nn::linear<T>>>;
template <class T>
using stack = nn::repeat<ffn<T>>;
static_assert(ecgssl::layer<stack<float>>);
static_assert(ecgssl::layer<stack<double>>);

template <class T>
stack<T> make_stack(std::size_t depth, std::size_t dim, std::size_t hidden) {
  return stack<T>(depth, [&](std::size_t) {
    nn::sequential<nn::linear<T>, nn::gelu<T>, nn::linear<T>> body(nn::linear<T>(dim, hidden), nn::gelu<T>(),
                                                                   nn::linear<T>(hidden, dim));
    body.set_names({"fc1", "", "fc2"});
    return ffn<T>(std::move(body));
  });
}

TEST_CASE("repeat names blocks by index and checks gradients through depth 3") {
  ecgssl::parameter_store<double> store;
  auto s = make_stack<double>(3, 4, 5);
  CHECK(s.depth() == 3);
  s.declare_parameters(store, "encoder.layers.");
  store.allocate();
  CHECK(store.find("encoder.layers.2.fc1.weight")->shape == std::vector<std::size_t>{5, 4});
  CHECK(store.find("encoder.layers.0.fc2.bias")->shape == std::vector<std::size_t>{4});
  CHECK(store.entries().size() == 12);
  // Blocks initialise from distinct streams.
  s.initialize(ecgssl::random_stream(5, 5));
  CHECK(store.values("encoder.layers.0.fc1.weight")[0] != store.values("encoder.layers.1.fc1.weight")[0]);
  nn_test::randomize(store, 11);
  auto x = nn_test::random_tensor<double, 3>({2, 3, 4}, 111);
  nn_test::require_gradients(ecgssl::testing::check_layer(s, store, x));
}

TEST_CASE("repeat can start its names at another index (extractor blocks 1 to 3)") {
  using block = nn::sequential<nn::conv1d<float>, nn::dropout<float>, nn::gelu<float>>;
  nn::repeat<block> blocks(3, block(nn::conv1d<float>(nn::conv1d_options{4, 4, 2, 2, 0, 1, 1, false}),
                                    nn::dropout<float>(0.0), nn::gelu<float>()));
  blocks.set_first_index(1);
  ecgssl::parameter_store<float> store;
  blocks.declare_parameters(store, "feature_extractor.conv_layers.");
  store.allocate();
  std::vector<std::string> names;
  for (const auto& e : store.entries()) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"feature_extractor.conv_layers.1.0.weight",
                                          "feature_extractor.conv_layers.2.0.weight",
                                          "feature_extractor.conv_layers.3.0.weight"});
}

TEST_CASE("repeat rejects depth 0 and stops at a frozen block") {
  CHECK_THROWS_AS(nn::repeat<nn::gelu<float>>(0, nn::gelu<float>()), ecgssl::config_error);
  nn::repeat<nn::grad_scale<double, ecgssl::host, 1>> frozen(2, nn::grad_scale<double, ecgssl::host, 1>(0.0));
  CHECK_FALSE(frozen.propagates_gradient());
  ecgssl::tensor<double, 1> x = {1.0, 2.0};
  ecgssl::tensor<double, 1> y;
  frozen.forward(x, y);
  CHECK(y == x);
  ecgssl::tensor<double, 1> dx = {0.0, 0.0};
  frozen.backward(x, dx);
  CHECK(dx(0) == 0.0);
}

TEST_CASE("repeat of residual FFN blocks matches PyTorch (float)") {
  ecgssl::parameter_store<float> store;
  auto s = make_stack<float>(2, 6, 10);
  s.declare_parameters(store, "layers.");
  store.allocate();
  std::vector<std::string> params;
  for (const auto& e : store.entries()) params.push_back(e.name);
  auto file = [](std::string name) {
    for (auto& ch : name) ch = ch == '.' ? '_' : ch;
    return name;
  };
  for (const auto& p : params) nn_test::load_parameter(store, p, "ffn_stack/" + file(p));
  auto x = nn_test::load<float, 3>("ffn_stack/x");
  auto dy = nn_test::load<float, 3>("ffn_stack/dy");
  ecgssl::tensor<float, 3> y;
  s.forward(x, y);
  nn_test::require_close(y, "ffn_stack/y", 1e-5);
  ecgssl::tensor<float, 3> dx = xt::zeros<float>(x.shape());
  s.backward(dy, dx);
  nn_test::require_close(dx, "ffn_stack/dx", 1e-4);
  for (const auto& p : params) nn_test::require_close(store.grads(p), "ffn_stack/d" + file(p), 1e-4);
}

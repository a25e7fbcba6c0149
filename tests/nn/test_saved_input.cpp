// The layers read their forward input where it lives at backward (nn/detail/saved_input.hpp):
// the contract is checked in test builds, and a stack of transformer layers sharing one
// workspace computes exactly what layers with workspaces of their own compute.
#include <ecgssl/nn/conv1d.hpp>
#include <ecgssl/nn/gelu.hpp>
#include <ecgssl/nn/group_norm.hpp>
#include <ecgssl/nn/layer_norm.hpp>
#include <ecgssl/nn/linear.hpp>
#include <ecgssl/nn/transformer_layer.hpp>

#include <doctest/doctest.h>

#include <string>

#include "nn_test_support.hpp"

namespace {

using ecgssl::tensor;

#ifndef ECGSSL_CHECK_SAVED_INPUTS
#error "the test programs define ECGSSL_CHECK_SAVED_INPUTS (tests/CMakeLists.txt)"
#endif

tensor<float, 3> filled(std::array<std::size_t, 3> shape, std::uint64_t seed) {
  return nn_test::random_tensor<float, 3>(shape, seed);
}

// forward, then one element of x changed, then backward: the layer must refuse, naming itself.
template <class Layer>
void check_refuses_changed_input(Layer& layer, const std::string& name, std::array<std::size_t, 3> shape) {
  ecgssl::parameter_store<float> store;
  layer.declare_parameters(store, name);
  store.allocate();
  if constexpr (requires { layer.initialize(ecgssl::random_stream(7, 0)); }) layer.initialize(ecgssl::random_stream(7, 0));
  auto x = filled(shape, 11);
  tensor<float, 3> y;
  layer.forward(x, y);
  tensor<float, 3> dy = xt::ones<float>(y.shape());
  tensor<float, 3> dx = xt::zeros<float>(x.shape());
  {
    INFO(name << " with its input unchanged");
    CHECK_NOTHROW(layer.backward(dy, dx));
  }
  x.data()[x.size() / 2] += 0.25f;
  INFO(name << " with its input changed");
  try {
    layer.backward(dy, dx);
    FAIL("backward read a changed input without an error");
  } catch (const ecgssl::config_error& e) {
    const std::string what = e.what();
    CHECK(what.find(name + "input") != std::string::npos);
    CHECK(what.find("changed between forward and backward") != std::string::npos);
  }
}

}  // namespace

TEST_CASE("every layer that keeps no copy of its input refuses a backward after that input changed") {
  ecgssl::nn::linear<float> fc(6, 4);
  check_refuses_changed_input(fc, "fc.", {2, 3, 6});
  ecgssl::nn::gelu<float> act;
  check_refuses_changed_input(act, "act.", {2, 3, 6});
  ecgssl::nn::layer_norm<float> ln(6, 1e-5);
  check_refuses_changed_input(ln, "ln.", {2, 3, 6});
  ecgssl::nn::group_norm<float> gn(4, 4, 1e-5);
  check_refuses_changed_input(gn, "gn.", {2, 4, 9});
  ecgssl::nn::conv1d<float> conv(ecgssl::nn::conv1d_options{.in_channels = 4, .out_channels = 3, .kernel = 2, .stride = 2});
  check_refuses_changed_input(conv, "conv.", {2, 4, 9});
}

TEST_CASE("transformer layers sharing one workspace compute exactly what separate workspaces compute") {
  for (const bool pre_ln : {false, true}) {
    for (const double act_dropout : {0.0, 0.2}) {
      INFO("pre-LN " << pre_ln << ", activation dropout " << act_dropout);
      const ecgssl::nn::transformer_layer_options o{.dim = 8, .heads = 2, .ffn_dim = 16, .dropout = 0.1,
                                                    .attention_dropout = 0.1, .activation_dropout = act_dropout,
                                                    .layer_norm_first = pre_ln};
      using layer_t = ecgssl::nn::transformer_layer<float>;
      struct stack {
        ecgssl::parameter_store<float> store;
        std::vector<layer_t> layers;
      };
      auto make = [&](stack& s) {
        s.layers.assign(3, layer_t(o));
        for (std::size_t l = 0; l < 3; ++l) s.layers[l].declare_parameters(s.store, "layers." + std::to_string(l) + ".");
        s.store.allocate();
        for (std::size_t l = 0; l < 3; ++l) {
          s.layers[l].initialize(ecgssl::random_stream(100 + l, 0));
          s.layers[l].set_training(true);
          s.layers[l].set_random_stream(ecgssl::random_stream(200 + l, 0));
        }
      };
      stack own, shared;
      make(own);
      make(shared);
      ecgssl::nn::transformer_layer_workspace<float> ws;
      const auto x = filled({2, 5, 8}, 3);
      std::vector<tensor<float, 3>> io_own(4), io_shared(4);
      io_own[0] = x;
      io_shared[0] = x;
      for (std::size_t l = 0; l < 3; ++l) {
        own.layers[l].forward(io_own[l], io_own[l + 1]);
        shared.layers[l].forward(io_shared[l], io_shared[l + 1], ws);
      }
      CHECK(io_own[3] == io_shared[3]);
      tensor<float, 3> dy = filled({2, 5, 8}, 4);
      std::vector<tensor<float, 3>> g_own(4), g_shared(4);
      g_own[3] = dy;
      g_shared[3] = dy;
      for (std::size_t l = 3; l-- > 0;) {
        g_own[l] = xt::zeros<float>(x.shape());
        g_shared[l] = xt::zeros<float>(x.shape());
        own.layers[l].backward(g_own[l + 1], g_own[l]);
        shared.layers[l].backward(g_shared[l + 1], g_shared[l], ws);
      }
      CHECK(g_own[0] == g_shared[0]);
      const auto a = own.store.grads();
      const auto b = shared.store.grads();
      REQUIRE(a.size() == b.size());
      CHECK(std::equal(a.begin(), a.end(), b.begin()));
    }
  }
}

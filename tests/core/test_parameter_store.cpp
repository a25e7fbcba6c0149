#include <ecgssl/core/parameter_store.hpp>

#include <doctest/doctest.h>

TEST_CASE("tensors are laid out back to back in declaration order") {
  ecgssl::parameter_store<float> store;
  auto w = store.add("fc.weight", {3, 4});
  auto b = store.add("fc.bias", {3}, {.weight_decay = false});
  store.allocate();
  CHECK(store.size() == 15u);
  CHECK(w.entry().offset == 0u);
  CHECK(b.entry().offset == 12u);
  CHECK(w.value().data() == store.values().data());
  CHECK(b.value().data() == store.values().data() + 12);
  CHECK(b.grad().data() == store.grads().data() + 12);
  CHECK_FALSE(b.entry().attributes.weight_decay);
  b.value()[2] = 5.0f;
  CHECK(store.values("fc.bias")[2] == 5.0f);
  CHECK(store.find("fc.weight")->shape == std::vector<std::size_t>{3, 4});
  CHECK(store.find("nope") == nullptr);
}

TEST_CASE("zero_grad clears the whole gradient buffer") {
  ecgssl::parameter_store<double> store;
  auto p = store.add("p", {5});
  store.allocate();
  for (auto& g : p.grad()) g = 1.5;
  store.zero_grad();
  for (auto g : store.grads()) CHECK(g == 0.0);
}

TEST_CASE("bad declarations are configuration errors") {
  ecgssl::parameter_store<float> store;
  store.add("a", {2});
  CHECK_THROWS_AS(store.add("a", {2}), ecgssl::config_error);
  CHECK_THROWS_AS(store.add("", {2}), ecgssl::config_error);
  CHECK_THROWS_AS(store.add("z", {2, 0}), ecgssl::shape_error);
  CHECK_THROWS_AS((void)store.values(), ecgssl::config_error);
  store.allocate();
  CHECK_THROWS_AS(store.add("late", {1}), ecgssl::config_error);
  CHECK_THROWS_WITH_AS((void)store.get("missing"), doctest::Contains("missing"), ecgssl::config_error);
}

TEST_CASE("set_trainable freezes by name prefix") {
  ecgssl::parameter_store<float> store;
  store.add("feature_extractor.conv_layers.0.0.weight", {2});
  store.add("encoder.layer_norm.weight", {2});
  store.allocate();
  store.set_trainable("feature_extractor.", false);
  CHECK_FALSE(store.entries()[0].attributes.trainable);
  CHECK(store.entries()[1].attributes.trainable);
}

TEST_CASE("a device mirror maps each tensor to the same offset, and without one, device access names the tensor") {
  ecgssl::parameter_store<double> store;
  const auto a = store.add("a", {3});
  const auto b = store.add("encoder.b", {2, 2});
  store.allocate();
  CHECK_THROWS_WITH_AS((void)b.device_value(), doctest::Contains("encoder.b"), ecgssl::config_error);
  CHECK_THROWS_AS((void)a.device_grad(), ecgssl::config_error);
  // The store never dereferences mirror pointers: host arrays stand in for device memory here.
  double values[7] = {};
  double grads[7] = {};
  store.set_device_mirror(values, grads);
  CHECK(a.device_value() == values);
  CHECK(b.device_value() == values + 3);
  CHECK(b.device_grad() == grads + 3);
  store.set_device_mirror(nullptr, nullptr);
  CHECK_THROWS_AS((void)a.device_value(), ecgssl::config_error);
}

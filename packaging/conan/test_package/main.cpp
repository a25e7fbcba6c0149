// The smallest program a user writes against ecgssl: each consumption route builds and runs it.
#include <ecgssl/ecgssl.hpp>

#include <cstdio>

int main() {
  ecgssl::parameter_store<float> store;
  auto weight = store.add("head.weight", {26, 8});
  store.allocate();
  const ecgssl::random_stream rng(1, ecgssl::stream_id({1, 2, 3}));
  for (std::size_t i = 0; i < weight.value().size(); ++i) weight.value()[i] = rng.uniform_float(i);
  const double total = ecgssl::deterministic_sum(std::span<const float>(store.values()));
  std::printf("ecgssl %s: %zu parameters, sum %.3f\n", ECGSSL_VERSION_STRING, store.size(), total);
  return store.size() == 208 && total > 0.0 ? 0 : 1;
}

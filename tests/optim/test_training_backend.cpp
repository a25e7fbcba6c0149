// Tests of optim/training_backend.hpp on the host: the trainer's stepping interface must be
// exactly the host optimizer over the store (the cuda specialisation is compared with the host in
// tests/cuda/test_gpu_pretrain.cu).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/optim/adam.hpp>
#include <ecgssl/optim/fixed_schedule.hpp>
#include <ecgssl/optim/optimizer.hpp>
#include <ecgssl/optim/training_backend.hpp>

namespace {

void fill(ecgssl::parameter_store<double>& store) {
  store.add("w", {2, 3});
  store.add("b", {3});
  store.allocate();
  auto values = store.values();
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.1 * static_cast<double>(i) - 0.2;
}

void set_grads(ecgssl::parameter_store<double>& store, double shift) {
  auto grads = store.grads();
  for (std::size_t i = 0; i < grads.size(); ++i) grads[i] = 0.05 * static_cast<double>(i % 4) - 0.07 + shift;
}

}  // namespace

TEST_CASE("training_backend on the host steps exactly as the optimizer over the store") {
  const ecgssl::adam update{.beta1 = 0.9, .beta2 = 0.98, .eps = 1e-6, .weight_decay = 0.01,
                            .variant = ecgssl::adam_variant::fairseq};
  const ecgssl::fixed_schedule schedule{.rate = 1e-2};
  ecgssl::parameter_store<double> trained, reference;
  fill(trained);
  fill(reference);
  ecgssl::training_backend<ecgssl::adam, ecgssl::fixed_schedule, double, ecgssl::host> backend(
      trained, update, schedule);
  ecgssl::optimizer<ecgssl::adam, ecgssl::fixed_schedule, double> optimizer(reference, update, schedule);
  for (int step = 0; step < 3; ++step) {
    set_grads(trained, 0.01 * step);
    set_grads(reference, 0.01 * step);
    backend.step(0.5);
    optimizer.step(0.5);
    backend.zero_grad();
    CHECK(std::all_of(trained.grads().begin(), trained.grads().end(), [](double g) { return g == 0.0; }));
  }
  CHECK(std::equal(trained.values().begin(), trained.values().end(), reference.values().begin()));
  CHECK(backend.step_count() == 3);
  CHECK(backend.last_learning_rate() == optimizer.last_learning_rate());
  // The host keeps its state in one optimizer: synced_to_host and host_optimizer are it.
  CHECK(&backend.synced_to_host() == &backend.host_optimizer());
  const auto mine = backend.synced_to_host().state_tensors();
  const auto theirs = optimizer.state_tensors();
  REQUIRE(mine.size() == theirs.size());
  for (std::size_t i = 0; i < mine.size(); ++i) {
    CHECK(mine[i].name == theirs[i].name);
    CHECK(std::equal(mine[i].values.begin(), mine[i].values.end(), theirs[i].values.begin()));
  }
  // Loading a state through host_optimizer: the next step uses it (nothing else to upload).
  backend.host_optimizer().set_step_count(7);
  backend.loaded_on_host();
  CHECK(backend.step_count() == 7);
}

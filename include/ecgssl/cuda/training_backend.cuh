#pragma once
/// \file training_backend.cuh
/// training_backend on cuda: the store's values and gradients live in a
/// device_parameters mirror (which the cuda layers read and accumulate into), the optimizer
/// state in a device_optimizer. The host store and a host optimizer are brought up to date only
/// when asked (checkpoints), so a step moves no parameter across the bus.

#include <cstdint>
#include <memory>
#include <utility>

#include "../optim/training_backend.hpp"
#include "cuda_check.cuh"
#include "cuda_context.cuh"
#include "device_optimizer.cuh"
#include "device_parameters.cuh"

namespace ecgssl {

template <class Update, class Schedule, class T>
class training_backend<Update, Schedule, T, cuda> {
 public:
  using host_optimizer_type = optimizer<Update, Schedule, T>;

  /// Uploads the store's (initialised) values; the store must stay alive and allocated.
  training_backend(parameter_store<T>& store, Update update, Schedule schedule, optimizer_options options = {})
      : store_(&store),
        host_optimizer_(store, update, schedule, options),
        parameters_(std::make_unique<device_parameters<T>>(store)),
        device_optimizer_(store, *parameters_, std::move(update), std::move(schedule), std::move(options)) {}

  void zero_grad() { parameters_->zero_grads(); }
  double step(double gradient_scale) { return device_optimizer_.step(gradient_scale); }
  [[nodiscard]] std::int64_t step_count() const { return device_optimizer_.step_count(); }
  [[nodiscard]] double last_learning_rate() const { return device_optimizer_.last_learning_rate(); }
  /// Downloads the values into the store and the optimizer state into the host optimizer
  /// (blocking).
  host_optimizer_type& synced_to_host() {
    parameters_->download_values(*store_);
    device_optimizer_.download_state(host_optimizer_);
    return host_optimizer_;
  }
  /// Downloads the values into the store (blocking); the optimizer state stays on the device.
  void values_to_host() { parameters_->download_values(*store_); }
  host_optimizer_type& host_optimizer() { return host_optimizer_; }
  /// Uploads the store's values and the host optimizer's state and step count (blocking).
  void loaded_on_host() {
    parameters_->upload_values();
    device_optimizer_.upload_state(host_optimizer_);
  }
  /// Waits for the work queued on the current stream (timing).
  void synchronize() { ECGSSL_CUDA_CHECK(cudaStreamSynchronize(cuda_context::current().stream())); }

 private:
  parameter_store<T>* store_;
  host_optimizer_type host_optimizer_;
  std::unique_ptr<device_parameters<T>> parameters_;  // not movable; the store points at it
  device_optimizer<Update, Schedule, T> device_optimizer_;
};

template <class T>
class inference_parameters<T, cuda> {
 public:
  /// Uploads the store's values; it is the store's device mirror while it lives.
  explicit inference_parameters(parameter_store<T>& store) : parameters_(store) {}
  void synchronize() { ECGSSL_CUDA_CHECK(cudaStreamSynchronize(cuda_context::current().stream())); }

 private:
  device_parameters<T> parameters_;
};

}  // namespace ecgssl

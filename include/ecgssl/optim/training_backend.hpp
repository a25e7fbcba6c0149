#pragma once
/// \file training_backend.hpp
/// Where a trainer's parameters, gradients and optimizer state live while it trains. The
/// trainers (pretrainer, ...) keep one host `parameter_store` for declaring, initialising and
/// checkpointing, and step through a `training_backend<U, S, T, B>`:
///   host: the store itself and an optimizer<U, S, T> over it;
///   cuda (<ecgssl/cuda/training_backend.cuh>): a device mirror of the store, a device_optimizer,
///        and a host optimizer that holds the state only when a checkpoint is written or read.
/// The primary template is declared only: training on cuda without that header does not compile.

#include <cstdint>
#include <type_traits>
#include <utility>

#include "../core/backend.hpp"
#include "../core/parameter_store.hpp"
#include "../core/detail/frozen_operands.hpp"
#include "optimizer.hpp"

namespace ecgssl {

template <class Update, class Schedule, class T, class Backend>
class training_backend;

template <class Update, class Schedule, class T>
class training_backend<Update, Schedule, T, host> {
 public:
  using host_optimizer_type = optimizer<Update, Schedule, T>;

  training_backend(parameter_store<T>& store, Update update, Schedule schedule, optimizer_options options = {})
      : store_(&store), optimizer_(store, std::move(update), std::move(schedule), std::move(options)) {}

  void zero_grad() { store_->zero_grad(); }
  /// One update with the gradients scaled by `gradient_scale` (optimizer::step).
  double step(double gradient_scale) { return optimizer_.step(gradient_scale); }
  [[nodiscard]] std::int64_t step_count() const { return optimizer_.step_count(); }
  [[nodiscard]] double last_learning_rate() const { return optimizer_.last_learning_rate(); }
  /// The store's values and this optimizer's state, current on the host (for a checkpoint).
  host_optimizer_type& synced_to_host() { return optimizer_; }
  /// The store's values, current on the host (the optimizer state is not brought over).
  void values_to_host() {}
  /// The host optimizer to load a checkpoint into; call loaded_on_host() afterwards.
  host_optimizer_type& host_optimizer() { return optimizer_; }
  /// The store's values and the host optimizer were loaded: train from them.
  void loaded_on_host() {}
  /// Waits until every queued computation has finished (for timing; the host never queues).
  void synchronize() {}

 private:
  parameter_store<T>* store_;
  host_optimizer_type optimizer_;
};

/// A store's values where backend B computes, for inference without an optimizer (host: the
/// store itself; cuda, <ecgssl/cuda/training_backend.cuh>: a device mirror uploaded once). The
/// values must not change while it lives: on the host, bf16 products keep rounded copies of the
/// weights they read (core/detail/frozen_operands.hpp) until it ends.
template <class T, class Backend>
class inference_parameters;

template <class T>
class inference_parameters<T, host> {
 public:
  explicit inference_parameters(parameter_store<T>& store) {
    if constexpr (std::is_same_v<T, float>) frozen_ = detail::frozen_operands::freeze(store.values());
  }
  void synchronize() {}

 private:
  detail::frozen_operands::registration frozen_;
};

}  // namespace ecgssl

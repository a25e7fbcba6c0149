#pragma once
/// \file device_optimizer.cuh
/// The optimizer of spec §5 on the GPU: the same update policies (adam, adamw, sgd), schedules,
/// parameter groups, gradient scaling and global-norm clipping as ecgssl::optimizer, applied to
/// the device mirror of a parameter_store (device_parameters) with one thrust pass per run of
/// entries that share settings. The plan comes from optim/detail/update_plan.hpp, the per-element
/// formulas from flat_updates.cuh: both are the host's, so a step here equals a host step up to
/// rounding. State lives on the device; download_state / upload_state move it through a host
/// optimizer, whose state_tensors() checkpoints write.

#include <thrust/execution_policy.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../core/concepts.hpp"
#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../optim/detail/update_plan.hpp"
#include "../optim/optimizer.hpp"
#include "../optim/parameter_group.hpp"
#include "cuda_context.cuh"
#include "device_buffer.cuh"
#include "device_parameters.cuh"
#include "flat_ops.cuh"
#include "flat_updates.cuh"

namespace ecgssl {

/// optimizer<U, S, T> over device_parameters<T>. U: ecgssl::adam, adamw or sgd.
template <class U, class S, class T = float>
  requires update_policy<U, T> && schedule<S>
class device_optimizer {
 public:
  using scalar_type = T;
  static constexpr std::size_t state_count = U::state_names.size();

  /// `store` is the host store `parameters` mirrors (its entries name the runs).
  device_optimizer(parameter_store<T>& store, device_parameters<T>& parameters, U update, S schedule,
                   optimizer_options options = {})
      : store_(&store), parameters_(&parameters), update_(std::move(update)),
        schedule_(std::move(schedule)), options_(std::move(options)) {
    detail::require_valid(options_);
    if (parameters.size() != store.size()) {
      throw shape_error(at_field("device_optimizer"), std::to_string(parameters.size()) + " device parameters",
                        std::to_string(store.size()) + " (the store's size)");
    }
  }

  void add_group(parameter_group group) {
    detail::require_valid(group);
    groups_.push_back(std::move(group));
    planned_ = false;
  }

  /// One update, as optimizer::step. Returns the global gradient norm after scaling and before
  /// clipping when clipping is on, else 0. Blocks only to read that norm back.
  double step(double gradient_scale = 1.0) {
    plan();
    allocate_state();
    const auto policy = thrust::cuda::par.on(cuda_context::current().stream());
    double scale = gradient_scale;
    double norm = 0.0;
    if (options_.max_gradient_norm > 0) {
      double squares = 0.0;
      for (const auto& run : runs_) {
        if (!run.frozen) squares += flat_ops::sum_of_squares(policy, parameters_->grads() + run.offset, run.size);
      }
      norm = std::sqrt(squares) * std::abs(gradient_scale);
      scale *= detail::clip_coefficient(norm, options_.max_gradient_norm);
    }
    last_norm_ = norm;
    const double rate = schedule_.learning_rate(updates_);
    last_rate_ = rate;
    const std::int64_t t = updates_ + 1;
    for (const auto& run : runs_) {
      if (run.frozen) continue;
      const auto& variant = variants_[run.variant];
      U settings_source = update_;
      if constexpr (requires { settings_source.weight_decay; }) settings_source.weight_decay = variant.weight_decay;
      auto settings = flat_ops::settings_of(settings_source);
      settings.gradient_scale = scale;
      T* p = parameters_->values() + run.offset;
      const T* g = parameters_->grads() + run.offset;
      const double lr = rate * variant.multiplier;
      if constexpr (state_count == 2) {
        flat_ops::adam_update(policy, p, g, state_[0].data() + run.offset, state_[1].data() + run.offset, run.size,
                              settings, lr, t);
      } else {
        flat_ops::sgd_update(policy, p, g, state_[0].data() + run.offset, run.size, settings, lr, t);
      }
    }
    ++updates_;
    return norm;
  }

  [[nodiscard]] std::int64_t step_count() const { return updates_; }
  void set_step_count(std::int64_t updates) {
    detail::require_valid_step_count(updates);
    updates_ = updates;
  }
  [[nodiscard]] double last_learning_rate() const { return last_rate_; }
  [[nodiscard]] double last_gradient_norm() const { return last_norm_; }

  /// Copies the device state and step count into `host`, an optimizer over the same store
  /// (blocking), so its state_tensors() can be checkpointed.
  template <class HostOptimizer>
  void download_state(HostOptimizer& host) {
    allocate_state();
    std::vector<T> buffer;
    for (auto& tensor : host.state_tensors()) {
      if (tensor.name == "optimizer.step") {
        tensor.values[0] = static_cast<T>(updates_);
        host.set_step_count(updates_);
        continue;
      }
      const auto [s, offset] = locate(tensor.name);
      buffer.resize(tensor.values.size());
      ECGSSL_CUDA_CHECK(cudaMemcpyAsync(buffer.data(), state_[s].data() + offset, buffer.size() * sizeof(T),
                                        cudaMemcpyDeviceToHost, cuda_context::current().stream()));
      ECGSSL_CUDA_CHECK(cudaStreamSynchronize(cuda_context::current().stream()));
      std::copy(buffer.begin(), buffer.end(), tensor.values.begin());
    }
  }

  /// Loads the state and step count of `host` (e.g. restored from a checkpoint), blocking.
  template <class HostOptimizer>
  void upload_state(HostOptimizer& host) {
    allocate_state();
    for (const auto& tensor : host.state_tensors()) {
      if (tensor.name == "optimizer.step") continue;
      const auto [s, offset] = locate(tensor.name);
      ECGSSL_CUDA_CHECK(cudaMemcpyAsync(state_[s].data() + offset, tensor.values.data(), tensor.values.size() * sizeof(T),
                                        cudaMemcpyHostToDevice, cuda_context::current().stream()));
    }
    ECGSSL_CUDA_CHECK(cudaStreamSynchronize(cuda_context::current().stream()));
    updates_ = host.step_count();
  }

 private:
  // "optimizer.<state>.<entry>" -> (state index, entry offset)
  std::pair<std::size_t, std::size_t> locate(const std::string& name) const {
    for (std::size_t s = 0; s < state_count; ++s) {
      const std::string prefix = "optimizer." + std::string(U::state_names[s]) + ".";
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      if (const parameter_entry* e = store_->find(name.substr(prefix.size()))) return {s, e->offset};
    }
    throw config_error(at_field(name), "no optimizer state tensor of that name",
                       "optimizer.<state>.<parameter name> of this optimizer's store");
  }

  void plan() {
    if (planned_) return;
    detail::plan_update_runs(*store_, groups_, options_.default_group, update_, variants_, runs_);
    planned_ = true;
  }

  void allocate_state() {
    if (state_allocated_) return;
    for (auto& buffer : state_) {
      buffer.resize(store_->size());
      buffer.zero();
    }
    state_allocated_ = true;
  }

  parameter_store<T>* store_;
  device_parameters<T>* parameters_;
  U update_;
  S schedule_;
  optimizer_options options_;
  std::vector<parameter_group> groups_;
  std::vector<detail::update_variant<U>> variants_;
  std::vector<detail::update_run> runs_;
  std::array<device_buffer<T>, state_count> state_{};
  std::int64_t updates_ = 0;
  double last_rate_ = 0.0;
  double last_norm_ = 0.0;
  bool planned_ = false;
  bool state_allocated_ = false;
};

}  // namespace ecgssl

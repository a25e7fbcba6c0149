#pragma once
/// \file optimizer.hpp
/// optimizer<Update, Schedule>: updates a model's flat parameter buffer (parameter_store) in one
/// OpenMP pass, with parameter groups, gradient-accumulation scaling, global-norm clipping and
/// named, resumable state (spec §5).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/concepts.hpp"
#include "../core/config.hpp"
#include "detail/tiles.hpp"
#include "detail/update_plan.hpp"
#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../core/threading.hpp"
#include "parameter_group.hpp"

namespace ecgssl {

struct optimizer_options {
  double max_gradient_norm = 0.0;  ///< > 0: clip the global L2 norm to this (fairseq clip_norm; spec §5 uses 0)
  parameter_group default_group{};  ///< settings of entries no added group selects
};

namespace detail {

/// The option and group checks both optimizers (host and device_optimizer) make.
inline void require_valid(const optimizer_options& options) {
  if (options.max_gradient_norm < 0) {
    throw config_error(at_field("optimizer.max_gradient_norm"), std::to_string(options.max_gradient_norm), ">= 0");
  }
}
inline void require_valid(const parameter_group& group) {
  if (group.learning_rate_multiplier < 0) {
    throw config_error(at_field("parameter_group." + group.name + ".learning_rate_multiplier"),
                       std::to_string(group.learning_rate_multiplier), ">= 0");
  }
}
inline void require_valid_step_count(std::int64_t updates) {
  if (updates < 0) throw config_error(at_field("optimizer.step"), std::to_string(updates), ">= 0");
}

/// fairseq's clip_grad_norm_: the factor on every gradient given the global norm (1 when it is
/// within max_norm, or clipping is off).
inline double clip_coefficient(double norm, double max_norm) {
  if (max_norm <= 0) return 1.0;
  return std::min(1.0, max_norm / (norm + 1e-6));
}

}  // namespace detail

/// A named view of one optimizer state tensor, e.g. "optimizer.exp_avg.encoder.layers.0.fc1.weight".
template <class T>
struct optimizer_state_tensor {
  std::string name;
  std::vector<std::size_t> shape;
  std::span<T> values;
};

/// Drives an update policy U (ecgssl::update_policy) with a schedule S (ecgssl::schedule) over
/// the store's buffers. One `step()` is one update u (0-based): lr = S.learning_rate(u) times the
/// group's multiplier, the policy sees t = u + 1.
/// Gradient accumulation: run backward for every micro-batch without zeroing (gradients add up
/// in the store), then `step(1 / Σ sample_size)` as fairseq's trainer does (spec §4.4), then
/// `store.zero_grad()`.
template <class U, class S, class T = float>
  requires update_policy<U, T> && schedule<S>
class optimizer {
 public:
  using scalar_type = T;
  static constexpr std::size_t state_count = U::state_names.size();

  optimizer(parameter_store<T>& store, U update, S schedule, optimizer_options options = {})
      : store_(&store), update_(std::move(update)), schedule_(std::move(schedule)), options_(std::move(options)) {
    detail::require_valid(options_);
  }

  /// Adds a group; entries it selects leave the default group. Call before the first step.
  void add_group(parameter_group group) {
    detail::require_valid(group);
    groups_.push_back(std::move(group));
    planned_ = false;
  }

  /// One update. `gradient_scale` multiplies every gradient as it is read (1/Σ sample_size
  /// for accumulated micro-batches). Returns the global gradient norm after scaling and before
  /// clipping (computed only when clipping is on; otherwise 0).
  double step(double gradient_scale = 1.0) {
    plan();
    allocate_state();
    auto params = store_->values();
    auto grads = store_->grads();
    double scale = gradient_scale;
    double norm = 0.0;
    if (options_.max_gradient_norm > 0) {
      // Deterministic: each fixed piece is summed in its own order (independent of the thread
      // count), the pieces then in index order.
      parallel_for(static_cast<std::int64_t>(pieces_.size()), [&](std::int64_t i) {
        const auto& piece = pieces_[static_cast<std::size_t>(i)];
        const T* ECGSSL_RESTRICT g = grads.data() + piece.offset;
        accumulator_t<T> sum = 0;
        ECGSSL_OMP_SIMD_SUM
        for (std::size_t k = 0; k < piece.size; ++k) sum += static_cast<accumulator_t<T>>(g[k]) * g[k];
        piece_squares_[static_cast<std::size_t>(i)] = sum;
      });
      accumulator_t<T> squares = 0;
      for (auto value : piece_squares_) squares += value;
      norm = std::sqrt(static_cast<double>(squares)) * std::abs(gradient_scale);
      scale *= detail::clip_coefficient(norm, options_.max_gradient_norm);
    }
    last_norm_ = norm;
    const double rate = schedule_.learning_rate(updates_);
    last_rate_ = rate;
    const std::int64_t t = updates_ + 1;
    // Per (group, decay) variant, a copy of the policy with its weight decay and scale.
    for (auto& variant : variants_) {
      variant.policy = update_;
      if constexpr (requires { variant.policy.weight_decay; }) variant.policy.weight_decay = variant.weight_decay;
      if constexpr (requires { variant.policy.gradient_scale; }) variant.policy.gradient_scale = scale;
    }
    if constexpr (!requires { update_.gradient_scale; }) {
      if (scale != 1.0) {
        const T s = static_cast<T>(scale);
        parallel_for(static_cast<std::int64_t>(pieces_.size()), [&](std::int64_t i) {
          const auto& piece = pieces_[static_cast<std::size_t>(i)];
          for (std::size_t k = 0; k < piece.size; ++k) grads[piece.offset + k] *= s;
        });
      }
    }
    parallel_for(static_cast<std::int64_t>(pieces_.size()), [&](std::int64_t i) {
      const auto& piece = pieces_[static_cast<std::size_t>(i)];
      auto& variant = variants_[piece.variant];  // apply() may run concurrently on disjoint slices
      std::array<std::span<T>, state_count> state{};
      for (std::size_t s = 0; s < state_count; ++s) state[s] = std::span<T>(state_[s].data() + piece.offset, piece.size);
      variant.policy.apply(params.subspan(piece.offset, piece.size),
                           std::span<const T>(grads.data() + piece.offset, piece.size),
                           std::span<const std::span<T>>(state.data(), state.size()),
                           rate * variant.multiplier, t);
    });
    ++updates_;
    return norm;
  }

  /// Updates done so far (the resumable step count).
  [[nodiscard]] std::int64_t step_count() const { return updates_; }
  void set_step_count(std::int64_t updates) {
    detail::require_valid_step_count(updates);
    updates_ = updates;
  }
  /// The schedule's rate for the last step (before group multipliers).
  [[nodiscard]] double last_learning_rate() const { return last_rate_; }
  [[nodiscard]] double last_gradient_norm() const { return last_norm_; }
  [[nodiscard]] U& update_policy_settings() { return update_; }
  [[nodiscard]] const S& learning_rate_schedule() const { return schedule_; }

  /// Every state tensor by name: "optimizer.<state>.<parameter name>" shaped like the parameter
  /// (frozen ones included, so a checkpoint is complete), and "optimizer.step" [1] holding the
  /// update count (exact in float up to 2^24 updates).
  std::vector<optimizer_state_tensor<T>> state_tensors() {
    allocate_state();
    std::vector<optimizer_state_tensor<T>> out;
    for (std::size_t s = 0; s < state_count; ++s) {
      for (const auto& entry : store_->entries()) {
        out.push_back({"optimizer." + std::string(U::state_names[s]) + "." + entry.name, entry.shape,
                       std::span<T>(state_[s].data() + entry.offset, entry.size)});
      }
    }
    step_mirror_[0] = static_cast<T>(updates_);
    out.push_back({"optimizer.step", {1}, std::span<T>(step_mirror_)});
    return out;
  }

  /// Restores one state tensor written from state_tensors() (e.g. read back from a checkpoint).
  void load_state_tensor(std::string_view name, std::span<const T> values) {
    for (auto& tensor : state_tensors()) {
      if (tensor.name != name) continue;
      if (values.size() != tensor.values.size()) {
        throw shape_error(at_field(std::string(name)), std::to_string(values.size()) + " elements",
                          std::to_string(tensor.values.size()) + " elements " + shape_string(tensor.shape));
      }
      if (name == "optimizer.step") {
        const double v = static_cast<double>(values[0]);
        if (!(v >= 0) || v != std::floor(v)) {
          throw data_error(at_field("optimizer.step"), std::to_string(v), "a non-negative whole number");
        }
        updates_ = static_cast<std::int64_t>(v);
        return;
      }
      std::copy(values.begin(), values.end(), tensor.values.begin());
      return;
    }
    throw config_error(at_field(std::string(name)), "no optimizer state tensor of that name",
                       "optimizer.<state>.<parameter name> or optimizer.step");
  }

 private:
  struct piece_type {
    std::size_t offset = 0;
    std::size_t size = 0;
    std::size_t variant = 0;
  };
  /// Elements per work item of the update pass: large enough to stream, small enough to balance.
  static constexpr std::size_t piece_elements = std::size_t{1} << 16;

  void plan() {
    if (planned_) return;
    if (!store_->allocated()) {
      throw config_error(at_field("optimizer"), "parameter store not allocated", "store.allocate() before the first step");
    }
    pieces_.clear();
    detail::plan_update_runs(*store_, groups_, options_.default_group, update_, variants_, runs_);
    for (const auto& run : runs_) {
      if (run.frozen) continue;
      for (std::size_t begin = 0; begin < run.size; begin += piece_elements) {
        pieces_.push_back({run.offset + begin, std::min(piece_elements, run.size - begin), run.variant});
      }
    }
    piece_squares_.assign(pieces_.size(), accumulator_t<T>(0));
    planned_ = true;
  }

  void allocate_state() {
    if (state_allocated_) return;
    if (!store_->allocated()) {
      throw config_error(at_field("optimizer"), "parameter store not allocated", "store.allocate() first");
    }
    for (auto& buffer : state_) buffer.assign(store_->size(), T(0));
    state_allocated_ = true;
  }

  parameter_store<T>* store_;
  U update_;
  S schedule_;
  optimizer_options options_;
  std::vector<parameter_group> groups_;
  std::vector<detail::update_variant<U>> variants_;
  std::vector<detail::update_run> runs_;
  std::vector<piece_type> pieces_;
  std::vector<accumulator_t<T>> piece_squares_;
  std::array<std::vector<T>, state_count> state_{};
  std::array<T, 1> step_mirror_{};
  std::int64_t updates_ = 0;
  double last_rate_ = 0.0;
  double last_norm_ = 0.0;
  bool planned_ = false;
  bool state_allocated_ = false;
};

}  // namespace ecgssl

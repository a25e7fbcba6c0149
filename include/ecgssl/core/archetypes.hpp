#pragma once
/// \file archetypes.hpp
/// The smallest type that models each concept in concepts.hpp. Tests static_assert them; they
/// are also the template to copy when writing a new component.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "backend.hpp"
#include "concepts.hpp"

namespace ecgssl::archetypes {

/// y = x * scale, with one learnable scalar.
struct layer_archetype {
  using scalar_type = double;
  using backend_type = host;
  using input_type = tensor<double, 1>;
  using output_type = tensor<double, 1>;

  void declare_parameters(parameter_store<double>& store, const std::string& prefix) {
    scale = store.add(prefix + "scale", {1});
  }
  void forward(const input_type& x, output_type& y) {
    cached_input = x;
    y = x * scale.value()[0];
  }
  void backward(const output_type& dy, input_type& dx) {
    dx += dy * scale.value()[0];
    double g = 0;
    for (std::size_t i = 0; i < dy.size(); ++i) g += dy(i) * cached_input(i);
    scale.grad()[0] += g;
  }
  void set_training(bool on) { training = on; }

  parameter<double> scale;
  input_type cached_input;
  bool training = true;
};

/// L = 0.5 * sum(x^2).
struct loss_archetype {
  using scalar_type = double;
  using input_type = tensor<double, 1>;
  double forward(const input_type& x) {
    cached = x;
    double sum = 0;
    for (auto v : x) sum += 0.5 * v * v;
    return sum;
  }
  void backward(double upstream, input_type& grad) { grad += upstream * cached; }
  input_type cached;
};

/// Plain gradient descent, no state.
struct update_archetype {
  static constexpr std::array<std::string_view, 0> state_names{};
  template <class T>
  void apply(std::span<T> params, std::span<const T> grads, std::span<const std::span<T>>,
             double learning_rate, std::int64_t) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      params[i] -= static_cast<T>(learning_rate) * grads[i];
    }
  }
};

/// A constant learning rate.
struct schedule_archetype {
  double rate = 1e-3;
  [[nodiscard]] double learning_rate(std::int64_t) const { return rate; }
};

/// Multiplies every sample by a constant gain.
struct signal_transform_archetype {
  float gain = 1.0f;
  void apply(tensor<float, 2>& x, signal_context&) const { x *= gain; }
};

/// Keeps every lead.
struct masking_archetype {
  std::uint32_t apply(tensor<float, 2>& x, const random_stream&) const {
    const auto leads = x.shape()[0];
    return leads >= 32 ? 0xFFFFFFFFu : ((1u << leads) - 1u);
  }
};

}  // namespace ecgssl::archetypes

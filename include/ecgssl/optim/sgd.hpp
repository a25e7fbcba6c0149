#pragma once
/// \file sgd.hpp
/// SGD with momentum, dampening, Nesterov and L2 weight decay, as torch.optim.SGD.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "../core/config.hpp"
#include "detail/tiles.hpp"

namespace ecgssl {

/// d = g + wd·p; b ← d at t = 1, else b ← μ b + (1-dampening) d; d ← d + μ b (Nesterov) or b;
/// p ← p - lr·d. Models ecgssl::update_policy. With momentum 0 the buffer is kept but unused.
struct sgd {
  static constexpr std::array<std::string_view, 1> state_names{"momentum_buffer"};

  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  double gradient_scale = 1.0;  ///< see adam::gradient_scale

  template <class T>
  void apply(std::span<T> params, std::span<const T> grads, std::span<const std::span<T>> state,
             double learning_rate, std::int64_t step) const {
    T* ECGSSL_RESTRICT p = params.data();
    const T* ECGSSL_RESTRICT g = grads.data();
    T* ECGSSL_RESTRICT b = state[0].data();
    const T lr = static_cast<T>(learning_rate);
    const T wd = static_cast<T>(weight_decay);
    const T mu = static_cast<T>(momentum);
    const T keep = static_cast<T>(1.0 - dampening);
    const T scale = static_cast<T>(gradient_scale);
    const bool first = step <= 1;  // torch clones d into the buffer on its first step
    const std::size_t n = params.size();
    if (momentum == 0.0) {
      ECGSSL_OMP_SIMD
      for (std::size_t i = 0; i < n; ++i) p[i] -= lr * (g[i] * scale + wd * p[i]);
      return;
    }
    ECGSSL_OMP_SIMD
    for (std::size_t i = 0; i < n; ++i) {
      T d = g[i] * scale + wd * p[i];
      b[i] = first ? d : mu * b[i] + keep * d;
      d = nesterov ? d + mu * b[i] : b[i];
      p[i] -= lr * d;
    }
  }
};

}  // namespace ecgssl

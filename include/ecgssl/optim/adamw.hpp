#pragma once
/// \file adamw.hpp
/// AdamW with torch.optim.AdamW's semantics (Loshchilov & Hutter, decoupled weight decay).

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "../core/config.hpp"
#include "detail/tiles.hpp"

namespace ecgssl {

/// p ← p·(1 - lr·wd); m ← β1 m + (1-β1) g; v ← β2 v + (1-β2) g²;
/// p ← p - lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps). Models ecgssl::update_policy.
struct adamw {
  static constexpr std::array<std::string_view, 2> state_names{"exp_avg", "exp_avg_sq"};

  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
  double gradient_scale = 1.0;  ///< see adam::gradient_scale

  template <class T>
  void apply(std::span<T> params, std::span<const T> grads, std::span<const std::span<T>> state,
             double learning_rate, std::int64_t step) const {
    T* ECGSSL_RESTRICT p = params.data();
    const T* ECGSSL_RESTRICT g = grads.data();
    T* ECGSSL_RESTRICT m = state[0].data();
    T* ECGSSL_RESTRICT v = state[1].data();
    const auto t = static_cast<double>(step);
    const double correction1 = 1.0 - std::pow(beta1, t);
    const double correction2 = 1.0 - std::pow(beta2, t);
    const T b1 = static_cast<T>(beta1);
    const T b2 = static_cast<T>(beta2);
    const T one_minus_b1 = static_cast<T>(1.0 - beta1);
    const T one_minus_b2 = static_cast<T>(1.0 - beta2);
    const T e = static_cast<T>(eps);
    const T scale = static_cast<T>(gradient_scale);
    const T decay = static_cast<T>(1.0 - learning_rate * weight_decay);
    const T step_size = static_cast<T>(learning_rate / correction1);
    const T inv_sqrt_correction2 = static_cast<T>(1.0 / std::sqrt(correction2));
    const std::size_t n = params.size();
    optim_detail::for_each_tile(n, [&](std::size_t begin, std::size_t size) {
      ECGSSL_OMP_SIMD
      for (std::size_t i = begin; i < begin + size; ++i) {
        const T gi = g[i] * scale;
        m[i] = m[i] * b1 + one_minus_b1 * gi;
        v[i] = v[i] * b2 + one_minus_b2 * gi * gi;
      }
      auto pt = optim_detail::tile(p, begin, size);
      pt = pt * decay - step_size * optim_detail::tile(m, begin, size) /
                            (optim_detail::tile(v, begin, size).sqrt() * inv_sqrt_correction2 + e);
    });
  }
};

}  // namespace ecgssl

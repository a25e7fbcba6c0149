#pragma once
/// \file adam.hpp
/// Adam as the reference trainer implements it (fairseq `optim/adam.py`, spec §5), with
/// torch.optim.Adam's variant as an option.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "../core/config.hpp"
#include "detail/tiles.hpp"

namespace ecgssl {

/// Where eps goes and how weight decay acts.
enum class adam_variant {
  fairseq,  ///< denom = sqrt(v) + eps (un-corrected), step = lr·sqrt(1-β2^t)/(1-β1^t), p -= lr·wd·p first
  pytorch,  ///< torch.optim.Adam: g += wd·p (L2), denom = sqrt(v)/sqrt(1-β2^t) + eps, step = lr/(1-β1^t)
};

/// Adam update policy (models ecgssl::update_policy). Spec §5 pre-training: β = (0.9, 0.98),
/// eps 1e-6, weight decay 0.01 on every parameter.
/// m ← β1 m + (1-β1) g;  v ← β2 v + (1-β2) g²;  p ← p - lr·wd·p;  p ← p - lr·sqrt(1-β2^t)/(1-β1^t) · m/(sqrt(v)+eps).
struct adam {
  static constexpr std::array<std::string_view, 2> state_names{"exp_avg", "exp_avg_sq"};

  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  adam_variant variant = adam_variant::fairseq;
  /// Factor applied to every gradient as it is read (the optimizer sets it per step to fuse the
  /// accumulation normalisation and clipping into the single update pass).
  double gradient_scale = 1.0;

  /// One update of a contiguous slice; `step` is the 1-based update number t.
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
    const std::size_t n = params.size();
    if (variant == adam_variant::fairseq) {
      const T step_size = static_cast<T>(learning_rate * std::sqrt(correction2) / correction1);
      const T decay = static_cast<T>(1.0 - learning_rate * weight_decay);
      optim_detail::for_each_tile(n, [&](std::size_t begin, std::size_t size) {
        ECGSSL_OMP_SIMD
        for (std::size_t i = begin; i < begin + size; ++i) {
          const T gi = g[i] * scale;
          m[i] = m[i] * b1 + one_minus_b1 * gi;
          v[i] = v[i] * b2 + one_minus_b2 * gi * gi;
        }
        auto pt = optim_detail::tile(p, begin, size);
        pt = pt * decay - step_size * optim_detail::tile(m, begin, size) / (optim_detail::tile(v, begin, size).sqrt() + e);
      });
    } else {
      const T step_size = static_cast<T>(learning_rate / correction1);
      const T inv_sqrt_correction2 = static_cast<T>(1.0 / std::sqrt(correction2));
      const T wd = static_cast<T>(weight_decay);
      optim_detail::for_each_tile(n, [&](std::size_t begin, std::size_t size) {
        ECGSSL_OMP_SIMD
        for (std::size_t i = begin; i < begin + size; ++i) {
          const T gi = g[i] * scale + wd * p[i];
          m[i] = m[i] * b1 + one_minus_b1 * gi;
          v[i] = v[i] * b2 + one_minus_b2 * gi * gi;
        }
        auto pt = optim_detail::tile(p, begin, size);
        pt -= step_size * optim_detail::tile(m, begin, size) /
              (optim_detail::tile(v, begin, size).sqrt() * inv_sqrt_correction2 + e);
      });
    }
  }
};

}  // namespace ecgssl

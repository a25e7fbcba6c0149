#pragma once
/// \file norm_kernels.hpp
/// Host math shared by nn::layer_norm (spec §3.4, §3.7) and nn::group_norm (spec §3.3).
/// Both normalise contiguous "rows" of length `inner` and apply a per-feature affine map; they
/// differ only in which feature index an element has. Statistics accumulate in double for float.

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../../core/backend.hpp"
#include "../../core/threading.hpp"

namespace ecgssl::nn::detail {

/// Sum of f(i) for i in [0, n) in 8 interleaved partial sums (a fixed order, so deterministic)
/// that the compiler can keep in vector registers; a single running sum would serialise on the
/// add latency.
template <class Acc, class F>
inline Acc lane_sum(std::size_t n, F&& f) {
  constexpr std::size_t lanes = 8;
  Acc partial[lanes] = {};
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    for (std::size_t l = 0; l < lanes; ++l) partial[l] += f(i + l);
  }
  for (; i < n; ++i) partial[i % lanes] += f(i);
  Acc total = 0;
  for (std::size_t l = 0; l < lanes; ++l) total += partial[l];
  return total;
}

/// Operation tag: normalisation of `rows` contiguous rows of `inner` elements, where element j
/// of row r has feature index `(r % groups) * (inner / span) + j / span`: layer_norm
/// uses groups = 1, span = 1 (feature = j); group_norm over x: [batch, C, T] with G groups uses
/// rows = batch*G, groups = G, inner = (C/G)*T, span = T (feature = channel).
struct norm_op {};

/// Geometry of a normalisation (see norm_op).
struct norm_geometry {
  std::size_t rows = 0;
  std::size_t inner = 0;
  std::size_t groups = 1;
  std::size_t span = 1;
  std::size_t features = 0;  ///< length of gamma/beta
};
}  // namespace ecgssl::nn::detail

namespace ecgssl {

template <>
struct implementation<nn::detail::norm_op, host> {
  using geometry = nn::detail::norm_geometry;

  /// y = (x - mean) * rstd * gamma + beta per row; writes mean/rstd (one per row) for backward.
  /// gamma/beta may be null (no affine).
  template <class T>
  static void forward(const geometry& g, const T* x, const T* gamma, const T* beta, T* y, T* mean,
                      T* rstd, double eps) {
    using acc = accumulator_t<T>;
    parallel_for(static_cast<std::int64_t>(g.rows), [&](std::int64_t r64) {
      const auto r = static_cast<std::size_t>(r64);
      const T* xr = x + r * g.inner;
      T* yr = y + r * g.inner;
      const acc sum = nn::detail::lane_sum<acc>(g.inner, [&](std::size_t j) { return static_cast<acc>(xr[j]); });
      const acc mu = sum / static_cast<acc>(g.inner);
      const acc sq = nn::detail::lane_sum<acc>(g.inner, [&](std::size_t j) {
        const acc d = static_cast<acc>(xr[j]) - mu;
        return d * d;
      });
      // Biased variance, as torch.nn.LayerNorm / GroupNorm.
      const acc rs = acc(1) / std::sqrt(sq / static_cast<acc>(g.inner) + static_cast<acc>(eps));
      mean[r] = static_cast<T>(mu);
      rstd[r] = static_cast<T>(rs);
      const T m = static_cast<T>(mu);
      const T s = static_cast<T>(rs);
      if (gamma == nullptr) {
        for (std::size_t j = 0; j < g.inner; ++j) yr[j] = (xr[j] - m) * s;
      } else if (g.span == 1 && g.groups == 1) {
        for (std::size_t j = 0; j < g.inner; ++j) yr[j] = (xr[j] - m) * s * gamma[j] + beta[j];
      } else {
        const std::size_t per_group = g.inner / g.span;
        const std::size_t first = (r % g.groups) * per_group;
        for (std::size_t c = 0; c < per_group; ++c) {
          const T scale = s * gamma[first + c];
          const T shift = beta[first + c] - m * scale;
          for (std::size_t j = c * g.span; j < (c + 1) * g.span; ++j) yr[j] = xr[j] * scale + shift;
        }
      }
    });
  }

  /// dx += rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * gamma;
  /// dgamma += sum dy * xhat, dbeta += sum dy. Parameter gradients are summed per feature in a
  /// fixed row order (parallel over features), so they do not depend on the thread count.
  template <class T>
  static void backward(const geometry& g, const T* x, const T* gamma, const T* mean, const T* rstd,
                       const T* dy, T* dx, T* dgamma, T* dbeta) {
    using acc = accumulator_t<T>;
    if (dx != nullptr) {
      parallel_for(static_cast<std::int64_t>(g.rows), [&](std::int64_t r64) {
        const auto r = static_cast<std::size_t>(r64);
        const T* xr = x + r * g.inner;
        const T* dyr = dy + r * g.inner;
        T* dxr = dx + r * g.inner;
        const acc m = mean[r];
        const acc s = rstd[r];
        // Element j = c * span + t of the row belongs to feature first + c.
        const std::size_t per_group = g.inner / g.span;
        const std::size_t first = (r % g.groups) * per_group;
        acc sum_dxhat = 0;
        acc sum_dxhat_xhat = 0;
        auto gamma_at = [&](std::size_t c) {
          return gamma == nullptr ? acc(1) : static_cast<acc>(gamma[first + c]);
        };
        if (g.span == 1) {
          // layer_norm: one feature per element.
          sum_dxhat = nn::detail::lane_sum<acc>(g.inner, [&](std::size_t j) {
            return static_cast<acc>(dyr[j]) * gamma_at(j);
          });
          sum_dxhat_xhat = s * nn::detail::lane_sum<acc>(g.inner, [&](std::size_t j) {
            return static_cast<acc>(dyr[j]) * gamma_at(j) * (static_cast<acc>(xr[j]) - m);
          });
        } else {
        for (std::size_t c = 0; c < per_group; ++c) {
          // gamma is constant over the `span` elements of channel c.
          const acc gam = gamma == nullptr ? acc(1) : static_cast<acc>(gamma[first + c]);
          const T* xc = xr + c * g.span;
          const T* dyc = dyr + c * g.span;
          sum_dxhat += gam * nn::detail::lane_sum<acc>(g.span, [&](std::size_t t) { return static_cast<acc>(dyc[t]); });
          sum_dxhat_xhat += gam * s * nn::detail::lane_sum<acc>(g.span, [&](std::size_t t) {
            return static_cast<acc>(dyc[t]) * (static_cast<acc>(xc[t]) - m);
          });
        }
        }
        const acc n = static_cast<acc>(g.inner);
        const acc mean_dxhat = sum_dxhat / n;
        const acc mean_dxhat_xhat = sum_dxhat_xhat / n;
        if (g.span == 1) {
          for (std::size_t j = 0; j < g.inner; ++j) {
            const acc xhat = (static_cast<acc>(xr[j]) - m) * s;
            const acc dxhat = static_cast<acc>(dyr[j]) * gamma_at(j);
            dxr[j] += static_cast<T>(s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
          }
        } else {
          for (std::size_t c = 0; c < per_group; ++c) {
            const acc gam = gamma_at(c);
            for (std::size_t j = c * g.span; j < (c + 1) * g.span; ++j) {
              const acc xhat = (static_cast<acc>(xr[j]) - m) * s;
              const acc dxhat = static_cast<acc>(dyr[j]) * gam;
              dxr[j] += static_cast<T>(s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
            }
          }
        }
      });
    }
    if (dgamma == nullptr) return;
    if (g.groups == 1 && g.span == 1) {
      // layer_norm: feature = j. Columns in blocks, rows in order inside each block.
      constexpr std::size_t block = 64;
      const std::size_t blocks = (g.inner + block - 1) / block;
      parallel_for(static_cast<std::int64_t>(blocks), [&](std::int64_t b64) {
        const std::size_t j0 = static_cast<std::size_t>(b64) * block;
        const std::size_t j1 = std::min(g.inner, j0 + block);
        acc sg[block] = {};
        acc sb[block] = {};
        for (std::size_t r = 0; r < g.rows; ++r) {
          const T* xr = x + r * g.inner;
          const T* dyr = dy + r * g.inner;
          const acc m = mean[r];
          const acc s = rstd[r];
          for (std::size_t j = j0; j < j1; ++j) {
            const acc d = static_cast<acc>(dyr[j]);
            sg[j - j0] += d * (static_cast<acc>(xr[j]) - m) * s;
            sb[j - j0] += d;
          }
        }
        for (std::size_t j = j0; j < j1; ++j) {
          dgamma[j] += static_cast<T>(sg[j - j0]);
          dbeta[j] += static_cast<T>(sb[j - j0]);
        }
      });
    } else {
      // group_norm: one feature (channel) = `span` contiguous elements of each row of its group.
      const std::size_t per_group = g.inner / g.span;  // channels per group
      parallel_for(static_cast<std::int64_t>(g.features), [&](std::int64_t f64) {
        const auto f = static_cast<std::size_t>(f64);
        const std::size_t group = f / per_group;
        const std::size_t offset = (f % per_group) * g.span;
        acc sg = 0;
        acc sb = 0;
        for (std::size_t r = group; r < g.rows; r += g.groups) {
          const T* xr = x + r * g.inner + offset;
          const T* dyr = dy + r * g.inner + offset;
          const acc m = mean[r];
          const acc s = rstd[r];
          sg += s * nn::detail::lane_sum<acc>(g.span, [&](std::size_t t) {
            return static_cast<acc>(dyr[t]) * (static_cast<acc>(xr[t]) - m);
          });
          sb += nn::detail::lane_sum<acc>(g.span, [&](std::size_t t) { return static_cast<acc>(dyr[t]); });
        }
        dgamma[f] += static_cast<T>(sg);
        dbeta[f] += static_cast<T>(sb);
      });
    }
  }
};

}  // namespace ecgssl

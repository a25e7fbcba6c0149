#pragma once
/// \file pos_conv_kernels.hpp
/// Host math of nn::pos_conv (spec §3.6): weight norm over the kernel axis, the grouped
/// convolution (padding k/2, last frame trimmed) as one GEMM per (sample, group) over an
/// overlapping im2col view of a padded copy of the input, bias and GELU; and the backward pass.
/// The cuda twin is implementation<pos_conv_op, cuda> in <ecgssl/cuda/pos_conv_kernels.cuh>.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../../core/backend.hpp"
#include "../../core/error.hpp"
#include "../../core/ordered_sum.hpp"
#include "../../core/tensor.hpp"
#include "../../core/threading.hpp"
#include "common.hpp"
#include "elementwise_kernels.hpp"

namespace ecgssl::nn::detail {

/// Operation tag of pos_conv.
struct pos_conv_op {};

/// Shapes of one pos_conv call: x, y: [batch, time, dim]; weight_v [dim, dim/groups, kernel].
struct pos_conv_geometry {
  std::size_t batch = 0;
  std::size_t time = 0;
  std::size_t dim = 0;
  std::size_t groups = 1;
  std::size_t kernel = 2;
  [[nodiscard]] std::size_t per_group() const { return dim / groups; }
};

/// Throws data_error when a kernel tap's weight_v slice has no norm (weight norm undefined).
template <class Acc>
void require_positive_tap_norm(Acc sum, std::size_t tap) {
  if (!(sum > 0)) {
    throw data_error(at_field("pos_conv.weight_v"),
                     "kernel tap " + std::to_string(tap) + " has a zero norm (weight norm undefined)",
                     "a non-zero weight_v slice for every tap");
  }
}

/// Host caches and scratch of pos_conv, reused across calls of one shape.
template <class T>
struct pos_conv_host_workspace {
  std::vector<T> w, w_flip, norm, pre_act, grad_pre, grad_w;
  std::vector<T> padded_x, padded_dy;  // [batch, groups, time + k - 1, dg]
};

}  // namespace ecgssl::nn::detail

namespace ecgssl {

template <>
struct implementation<nn::detail::pos_conv_op, host> {
  using geometry = nn::detail::pos_conv_geometry;
  template <class T>
  using workspace = nn::detail::pos_conv_host_workspace<T>;

  /// y = GELU(conv(x, w(v, gain)) + bias), x, y: [batch, time, dim]; caches what backward needs.
  template <class T>
  static void forward(const geometry& geo, const T* x, const T* v, const T* gain, const T* bias, T* y,
                      workspace<T>& ws) {
    const auto d = geo.dim;
    const auto rows = geo.batch * geo.time;
    const auto dg = geo.per_group();
    const auto k = geo.kernel;
    const auto groups = geo.groups;
    compute_weight(geo, v, gain, ws);
    pad_into(geo, x, ws.padded_x, k / 2);
    ws.pre_act.resize(rows * d);
    // Pre_bg[T, dg] = window(x_bg)[T, k*dg] W_g^T + b_g, one serial GEMM per (sample, group)
    parallel_for(static_cast<std::int64_t>(geo.batch * groups), [&](std::int64_t task) {
      const std::size_t b = static_cast<std::size_t>(task) / groups;
      const std::size_t g = static_cast<std::size_t>(task) % groups;
      const auto W = as_matrix(static_cast<const T*>(ws.w.data() + g * dg * k * dg),
                               static_cast<Eigen::Index>(dg), static_cast<Eigen::Index>(k * dg));
      auto Pre = strided(ws.pre_act.data() + b * geo.time * d + g * dg, geo.time, dg, d);
      Pre.noalias() = window(geo, ws.padded_x.data(), b, g) * W.transpose();
      Pre.rowwise() += const_vector_map<T>(bias + g * dg, static_cast<Eigen::Index>(dg)).transpose();
    });
    gelu::forward(ws.pre_act.data(), y, rows * d);
  }

  /// dy: [batch, time, dim]; accumulates dx, dv, dgain, dbias.
  template <class T>
  static void backward(const geometry& geo, const T* v, const T* gain, const T* dy, T* dx, T* dv, T* dgain,
                       T* dbias, workspace<T>& ws) {
    const auto d = geo.dim;
    const auto dg = geo.per_group();
    const auto k = geo.kernel;
    const auto groups = geo.groups;
    const auto rows = geo.batch * geo.time;
    ws.grad_pre.assign(rows * d, T(0));
    gelu::backward(ws.pre_act.data(), dy, ws.grad_pre.data(), rows * d);
    add_column_sums(dbias, ws.grad_pre.data(), rows, d);  // dPre = ws.grad_pre [rows, d]
    // dW_g[dg, k*dg] = sum_b dPre_bg^T window(x_bg): parallel over groups, samples in order
    ws.grad_w.assign(ws.w.size(), T(0));
    parallel_for(static_cast<std::int64_t>(groups), [&](std::int64_t g64) {
      const auto g = static_cast<std::size_t>(g64);
      auto dW = as_matrix(ws.grad_w.data() + g * dg * k * dg, static_cast<Eigen::Index>(dg),
                          static_cast<Eigen::Index>(k * dg));
      for (std::size_t b = 0; b < geo.batch; ++b) {
        const auto dP = strided(static_cast<const T*>(ws.grad_pre.data()) + b * geo.time * d + g * dg, geo.time,
                                dg, d);
        dW.noalias() += dP.transpose() * window(geo, ws.padded_x.data(), b, g);
      }
    });
    // dx_bg[T, dg] += window(pad(dPre_bg))[T, k*dg] W_g flipped over taps [k*dg, dg]: the
    // adjoint of the convolution is the correlation with the reversed kernel, so no col2im.
    // Input frame s receives output frame t = s + k/2 - j through tap j; with m = k - 1 - j and
    // dPre placed at frame offset k - 1 - k/2, that is padded frame s + m.
    pad_into(geo, ws.grad_pre.data(), ws.padded_dy, k - 1 - k / 2);
    flip_weight(geo, ws);
    parallel_for(static_cast<std::int64_t>(geo.batch * groups), [&](std::int64_t task) {
      const std::size_t b = static_cast<std::size_t>(task) / groups;
      const std::size_t g = static_cast<std::size_t>(task) % groups;
      const auto Wf = as_matrix(static_cast<const T*>(ws.w_flip.data() + g * k * dg * dg),
                                static_cast<Eigen::Index>(k * dg), static_cast<Eigen::Index>(dg));
      auto dX = strided(dx + b * geo.time * d + g * dg, geo.time, dg, d);
      dX.noalias() += window(geo, ws.padded_dy.data(), b, g) * Wf;
    });
    weight_norm_backward(geo, v, gain, dv, dgain, ws);
  }

 private:
  using gelu = implementation<nn::detail::gelu_op, host>;

  // w[g][o][j][i] = g_j * v[g*dg + o, i, j] / norm_j
  template <class T>
  static void compute_weight(const geometry& geo, const T* v, const T* gain, workspace<T>& ws) {
    const auto d = geo.dim;
    const auto dg = geo.per_group();
    const auto k = geo.kernel;
    ws.norm.assign(k, T(0));
    std::vector<accumulator_t<T>> sums(k, 0);
    for (std::size_t o = 0; o < d; ++o) {
      for (std::size_t i = 0; i < dg; ++i) {
        const T* vr = v + (o * dg + i) * k;
        for (std::size_t j = 0; j < k; ++j) sums[j] += static_cast<accumulator_t<T>>(vr[j]) * vr[j];
      }
    }
    for (std::size_t j = 0; j < k; ++j) {
      nn::detail::require_positive_tap_norm(sums[j], j);
      ws.norm[j] = static_cast<T>(std::sqrt(sums[j]));
    }
    ws.w.resize(d * dg * k);
    for (std::size_t o = 0; o < d; ++o) {
      const std::size_t g = o / dg;
      const std::size_t oo = o % dg;
      for (std::size_t i = 0; i < dg; ++i) {
        const T* vr = v + (o * dg + i) * k;
        for (std::size_t j = 0; j < k; ++j) {
          ws.w[((g * dg + oo) * k + j) * dg + i] = gain[j] * vr[j] / ws.norm[j];
        }
      }
    }
  }

  // Chain rule through w = g v / ||v||: dv = (g/n)(dw - v (dw.v)/n^2), dg = (dw.v)/n per tap.
  template <class T>
  static void weight_norm_backward(const geometry& geo, const T* v, const T* gain, T* dv, T* dgain,
                                   const workspace<T>& ws) {
    const auto d = geo.dim;
    const auto dg = geo.per_group();
    const auto k = geo.kernel;
    std::vector<accumulator_t<T>> dots(k, 0);
    for (std::size_t o = 0; o < d; ++o) {
      const std::size_t g = o / dg;
      const std::size_t oo = o % dg;
      for (std::size_t i = 0; i < dg; ++i) {
        const T* vr = v + (o * dg + i) * k;
        for (std::size_t j = 0; j < k; ++j) {
          dots[j] += static_cast<accumulator_t<T>>(ws.grad_w[((g * dg + oo) * k + j) * dg + i]) * vr[j];
        }
      }
    }
    for (std::size_t j = 0; j < k; ++j) dgain[j] += static_cast<T>(dots[j] / ws.norm[j]);
    for (std::size_t o = 0; o < d; ++o) {
      const std::size_t g = o / dg;
      const std::size_t oo = o % dg;
      for (std::size_t i = 0; i < dg; ++i) {
        const T* vr = v + (o * dg + i) * k;
        T* dvr = dv + (o * dg + i) * k;
        for (std::size_t j = 0; j < k; ++j) {
          const T n = ws.norm[j];
          const T dw = ws.grad_w[((g * dg + oo) * k + j) * dg + i];
          dvr[j] += gain[j] / n * (dw - vr[j] * static_cast<T>(dots[j]) / (n * n));
        }
      }
    }
  }

  template <class T>
  using strided_map = Eigen::Map<row_matrix<T>, 0, Eigen::OuterStride<>>;
  template <class T>
  using const_strided_map = Eigen::Map<const row_matrix<T>, 0, Eigen::OuterStride<>>;

  template <class T>
  static strided_map<T> strided(T* data, std::size_t rows, std::size_t cols, std::size_t stride) {
    return strided_map<T>(data, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols),
                          Eigen::OuterStride<>(static_cast<Eigen::Index>(stride)));
  }
  template <class T>
  static const_strided_map<T> strided(const T* data, std::size_t rows, std::size_t cols, std::size_t stride) {
    return const_strided_map<T>(data, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols),
                                Eigen::OuterStride<>(static_cast<Eigen::Index>(stride)));
  }

  // Rows of a padded per-(sample, group) buffer: time + k - 1 frames of dg channels.
  static std::size_t padded_rows(const geometry& geo) { return geo.time + geo.kernel - 1; }

  // The im2col matrix of (sample b, group g) without copying: row t is the k*dg consecutive
  // values that start at padded frame t, so consecutive rows overlap (row stride dg).
  // buffer: [batch, groups, time + k - 1, dg] -> [time, k*dg]
  template <class T>
  static const_strided_map<T> window(const geometry& geo, const T* buffer, std::size_t b, std::size_t g) {
    const auto dg = geo.per_group();
    return strided(buffer + (b * geo.groups + g) * padded_rows(geo) * dg, geo.time, geo.kernel * dg, dg);
  }

  // Copies rows [0, time) of `src` ([batch, time, dim]) into `dst` ([batch, groups, time + k - 1,
  // dg]) at frame offset `offset`, zeros elsewhere. Output frame t reads input frame
  // t + j - k/2 through tap j: padded frame t + j when offset = k/2.
  template <class T>
  static void pad_into(const geometry& geo, const T* src, std::vector<T>& dst, std::size_t offset) {
    const auto d = geo.dim;
    const auto groups = geo.groups;
    const auto dg = geo.per_group();
    const auto prow = padded_rows(geo);
    const auto time = geo.time;
    dst.resize(geo.batch * groups * prow * dg);
    parallel_for(static_cast<std::int64_t>(geo.batch * groups), [&](std::int64_t task) {
      const std::size_t b = static_cast<std::size_t>(task) / groups;
      const std::size_t g = static_cast<std::size_t>(task) % groups;
      T* out = dst.data() + static_cast<std::size_t>(task) * prow * dg;
      std::fill(out, out + offset * dg, T(0));
      for (std::size_t t = 0; t < time; ++t) {
        const T* in = src + (b * time + t) * d + g * dg;
        std::copy(in, in + dg, out + (offset + t) * dg);
      }
      std::fill(out + (offset + time) * dg, out + prow * dg, T(0));
    });
  }

  // w_flip[g][(m, o), i] = w[g][o][k - 1 - m][i]
  template <class T>
  static void flip_weight(const geometry& geo, workspace<T>& ws) {
    const auto dg = geo.per_group();
    const auto k = geo.kernel;
    ws.w_flip.resize(ws.w.size());
    parallel_for(static_cast<std::int64_t>(geo.groups), [&](std::int64_t g64) {
      const auto g = static_cast<std::size_t>(g64);
      for (std::size_t m = 0; m < k; ++m) {
        for (std::size_t o = 0; o < dg; ++o) {
          const T* src = ws.w.data() + ((g * dg + o) * k + (k - 1 - m)) * dg;
          std::copy(src, src + dg, ws.w_flip.data() + ((g * k + m) * dg + o) * dg);
        }
      }
    });
  }
};

}  // namespace ecgssl

#pragma once
/// \file pos_conv.hpp
/// Convolutional positional embedding (spec §3.6):
///   pos = GELU(SamePad(WeightNorm_dim2(Conv1d(D -> D, k, padding k/2, groups G, bias))(h)))
/// Weight norm over the kernel axis: w[:, :, j] = g_j * v[:, :, j] / ||v[:, :, j]||_F, with
/// weight_v [D, D/G, k] and weight_g [1, 1, k]. SamePad drops the last output frame (even k),
/// so the output has the input's length. The output is the embedding only; the encoder adds it.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../core/tensor.hpp"
#include "../core/threading.hpp"
#include "detail/common.hpp"
#include "detail/elementwise_kernels.hpp"

namespace ecgssl::nn {

/// Options of pos_conv (defaults = spec §3.6).
struct pos_conv_options {
  std::size_t dim = 768;      ///< D (in = out channels)
  std::size_t kernel = 128;   ///< k (even; padding k/2, last frame trimmed)
  std::size_t groups = 16;    ///< G, must divide D
};

/// h: [batch, time, dim] -> pos: [batch, time, dim].
template <class T, class Backend = host>
class pos_conv {
 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = tensor<T, 3>;
  using output_type = tensor<T, 3>;

  explicit pos_conv(pos_conv_options options = {}) : options_(options) {
    if (options_.groups == 0 || options_.dim % options_.groups != 0) {
      throw config_error(at_field("pos_conv.groups"),
                         std::to_string(options_.groups) + " groups for " + std::to_string(options_.dim) +
                             " channels",
                         "a group count dividing dim");
    }
    if (options_.kernel == 0 || options_.kernel % 2 != 0) {
      throw config_error(at_field("pos_conv.kernel"), "kernel " + std::to_string(options_.kernel),
                         "an even kernel size (SamePad trims one frame)");
    }
  }

  [[nodiscard]] const pos_conv_options& options() const { return options_; }

  /// Declares weight_v [D, D/G, k], weight_g [1, 1, k], bias [D] under `prefix`
  /// (e.g. "encoder.pos_conv.0.").
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    const auto d = options_.dim;
    const auto k = options_.kernel;
    bias_ = store.add(prefix + "bias", {d});
    weight_g_ = store.add(prefix + "weight_g", {1, 1, k});
    weight_v_ = store.add(prefix + "weight_v", {d, d / options_.groups, k});
  }

  void set_training(bool) {}

  /// Spec §3.6: v ~ N(0, 4 / (k * D)), bias 0, g = ||v[:, :, j]|| (PyTorch weight_norm's start).
  void initialize(const random_stream& rng) {
    const auto k = options_.kernel;
    detail::fill_normal(weight_v_.value(), rng, std::sqrt(4.0 / static_cast<double>(k * options_.dim)));
    detail::fill_constant(bias_.value(), T(0));
    auto v = weight_v_.value();
    auto g = weight_g_.value();
    for (std::size_t j = 0; j < k; ++j) {
      accumulator_t<T> sum = 0;
      for (std::size_t r = 0; r < v.size() / k; ++r) sum += static_cast<accumulator_t<T>>(v[r * k + j]) * v[r * k + j];
      g[j] = static_cast<T>(std::sqrt(sum));
    }
  }

  // x: [batch, time, dim] -> y: [batch, time, dim]
  void forward(const input_type& x, output_type& y) {
    const auto d = options_.dim;
    if (x.shape()[2] != d) {
      throw shape_error(at_field("pos_conv.input"), "got shape " + shape_string(x.shape()),
                        "[batch, time, " + std::to_string(d) + "]");
    }
    batch_ = x.shape()[0];
    time_ = x.shape()[1];
    compute_weight();
    const auto rows = batch_ * time_;
    const auto dg = d / options_.groups;
    const auto k = options_.kernel;
    const auto groups = options_.groups;
    pad_input(x.data());
    pre_act_.resize(rows * d);
    // Pre_bg[T, dg] = window(x_bg)[T, k*dg] W_g^T + b_g, one serial GEMM per (sample, group)
    parallel_for(static_cast<std::int64_t>(batch_ * groups), [&](std::int64_t task) {
      const std::size_t b = static_cast<std::size_t>(task) / groups;
      const std::size_t g = static_cast<std::size_t>(task) % groups;
      const auto W = as_matrix(static_cast<const T*>(w_.data() + g * dg * k * dg),
                               static_cast<Eigen::Index>(dg), static_cast<Eigen::Index>(k * dg));
      auto Pre = strided(pre_act_.data() + b * time_ * d + g * dg, time_, dg, d);
      Pre.noalias() = window(padded_x_.data(), b, g) * W.transpose();
      Pre.rowwise() += const_vector_map<T>(bias_.value().data() + g * dg, static_cast<Eigen::Index>(dg)).transpose();
    });
    detail::ensure_shape(y, x.shape());
    gelu_kernels::forward(pre_act_.data(), y.data(), rows * d);
  }

  // dy: [batch, time, dim]; accumulates dx, d weight_v, d weight_g, d bias.
  void backward(const output_type& dy, input_type& dx) {
    const auto d = options_.dim;
    const auto dg = d / options_.groups;
    const auto k = options_.kernel;
    const auto groups = options_.groups;
    const auto rows = batch_ * time_;
    require_shape(dy.shape(), std::array<std::size_t, 3>{batch_, time_, d}, "pos_conv.output_grad");
    require_shape(dx.shape(), std::array<std::size_t, 3>{batch_, time_, d}, "pos_conv.input_grad");
    grad_pre_.assign(rows * d, T(0));
    gelu_kernels::backward(pre_act_.data(), dy.data(), grad_pre_.data(), rows * d);
    const auto dPre = as_matrix(static_cast<const T*>(grad_pre_.data()), static_cast<Eigen::Index>(rows),
                                static_cast<Eigen::Index>(d));
    vector_map<T> db(bias_.grad().data(), static_cast<Eigen::Index>(d));
    db += dPre.colwise().sum().transpose();
    // dW_g[dg, k*dg] = sum_b dPre_bg^T window(x_bg): parallel over groups, samples in order
    grad_w_.assign(w_.size(), T(0));
    parallel_for(static_cast<std::int64_t>(groups), [&](std::int64_t g64) {
      const auto g = static_cast<std::size_t>(g64);
      auto dW = as_matrix(grad_w_.data() + g * dg * k * dg, static_cast<Eigen::Index>(dg),
                          static_cast<Eigen::Index>(k * dg));
      for (std::size_t b = 0; b < batch_; ++b) {
        const auto dP = strided(static_cast<const T*>(grad_pre_.data()) + b * time_ * d + g * dg, time_, dg, d);
        dW.noalias() += dP.transpose() * window(padded_x_.data(), b, g);
      }
    });
    // dx_bg[T, dg] += window(pad(dPre_bg))[T, k*dg] W_g flipped over taps [k*dg, dg]: the
    // adjoint of the convolution is the correlation with the reversed kernel, so no col2im.
    pad_output_grad();
    flip_weight();
    parallel_for(static_cast<std::int64_t>(batch_ * groups), [&](std::int64_t task) {
      const std::size_t b = static_cast<std::size_t>(task) / groups;
      const std::size_t g = static_cast<std::size_t>(task) % groups;
      const auto Wf = as_matrix(static_cast<const T*>(w_flip_.data() + g * k * dg * dg),
                                static_cast<Eigen::Index>(k * dg), static_cast<Eigen::Index>(dg));
      auto dX = strided(dx.data() + b * time_ * d + g * dg, time_, dg, d);
      dX.noalias() += window(padded_dy_.data(), b, g) * Wf;
    });
    weight_norm_backward();
  }

  [[nodiscard]] const std::vector<T>& effective_weight() const { return w_; }

 private:
  // w_[g][o][j][i] = g_j * v[g*dg + o, i, j] / norm_j
  void compute_weight() {
    const auto d = options_.dim;
    const auto dg = d / options_.groups;
    const auto k = options_.kernel;
    const T* v = weight_v_.value().data();
    const T* gain = weight_g_.value().data();
    norm_.assign(k, T(0));
    std::vector<accumulator_t<T>> sums(k, 0);
    for (std::size_t o = 0; o < d; ++o) {
      for (std::size_t i = 0; i < dg; ++i) {
        const T* vr = v + (o * dg + i) * k;
        for (std::size_t j = 0; j < k; ++j) sums[j] += static_cast<accumulator_t<T>>(vr[j]) * vr[j];
      }
    }
    for (std::size_t j = 0; j < k; ++j) {
      if (!(sums[j] > 0)) {
        throw data_error(at_field("pos_conv.weight_v"),
                         "kernel tap " + std::to_string(j) + " has a zero norm (weight norm undefined)",
                         "a non-zero weight_v slice for every tap");
      }
      norm_[j] = static_cast<T>(std::sqrt(sums[j]));
    }
    w_.resize(d * dg * k);
    for (std::size_t o = 0; o < d; ++o) {
      const std::size_t g = o / dg;
      const std::size_t oo = o % dg;
      for (std::size_t i = 0; i < dg; ++i) {
        const T* vr = v + (o * dg + i) * k;
        for (std::size_t j = 0; j < k; ++j) {
          w_[((g * dg + oo) * k + j) * dg + i] = gain[j] * vr[j] / norm_[j];
        }
      }
    }
  }

  // Chain rule through w = g v / ||v||: dv = (g/n)(dw - v (dw.v)/n^2), dg = (dw.v)/n per tap.
  void weight_norm_backward() {
    const auto d = options_.dim;
    const auto dg = d / options_.groups;
    const auto k = options_.kernel;
    const T* v = weight_v_.value().data();
    const T* gain = weight_g_.value().data();
    T* dv = weight_v_.grad().data();
    T* dgain = weight_g_.grad().data();
    std::vector<accumulator_t<T>> dots(k, 0);
    for (std::size_t o = 0; o < d; ++o) {
      const std::size_t g = o / dg;
      const std::size_t oo = o % dg;
      for (std::size_t i = 0; i < dg; ++i) {
        const T* vr = v + (o * dg + i) * k;
        for (std::size_t j = 0; j < k; ++j) {
          dots[j] += static_cast<accumulator_t<T>>(grad_w_[((g * dg + oo) * k + j) * dg + i]) * vr[j];
        }
      }
    }
    for (std::size_t j = 0; j < k; ++j) dgain[j] += static_cast<T>(dots[j] / norm_[j]);
    for (std::size_t o = 0; o < d; ++o) {
      const std::size_t g = o / dg;
      const std::size_t oo = o % dg;
      for (std::size_t i = 0; i < dg; ++i) {
        const T* vr = v + (o * dg + i) * k;
        T* dvr = dv + (o * dg + i) * k;
        for (std::size_t j = 0; j < k; ++j) {
          const T n = norm_[j];
          const T dw = grad_w_[((g * dg + oo) * k + j) * dg + i];
          dvr[j] += gain[j] / n * (dw - vr[j] * static_cast<T>(dots[j]) / (n * n));
        }
      }
    }
  }

  using strided_map = Eigen::Map<row_matrix<T>, 0, Eigen::OuterStride<>>;
  using const_strided_map = Eigen::Map<const row_matrix<T>, 0, Eigen::OuterStride<>>;

  static strided_map strided(T* data, std::size_t rows, std::size_t cols, std::size_t stride) {
    return strided_map(data, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols),
                       Eigen::OuterStride<>(static_cast<Eigen::Index>(stride)));
  }
  static const_strided_map strided(const T* data, std::size_t rows, std::size_t cols, std::size_t stride) {
    return const_strided_map(data, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols),
                             Eigen::OuterStride<>(static_cast<Eigen::Index>(stride)));
  }

  // Rows of a padded per-(sample, group) buffer: time + k - 1 frames of dg channels.
  [[nodiscard]] std::size_t padded_rows() const { return time_ + options_.kernel - 1; }

  // The im2col matrix of (sample b, group g) without copying: row t is the k*dg consecutive
  // values that start at padded frame t, so consecutive rows overlap (row stride dg).
  // buffer: [batch, groups, time + k - 1, dg] -> [time, k*dg]
  const_strided_map window(const T* buffer, std::size_t b, std::size_t g) const {
    const auto dg = options_.dim / options_.groups;
    return strided(buffer + (b * options_.groups + g) * padded_rows() * dg, time_, options_.kernel * dg, dg);
  }

  // Copies rows [0, time) of `src` ([batch, time, dim]) into `dst` ([batch, groups, time + k - 1,
  // dg]) at frame offset `offset`, zeros elsewhere.
  void pad_into(const T* src, std::vector<T>& dst, std::size_t offset) {
    const auto d = options_.dim;
    const auto groups = options_.groups;
    const auto dg = d / groups;
    const auto prow = padded_rows();
    dst.resize(batch_ * groups * prow * dg);
    parallel_for(static_cast<std::int64_t>(batch_ * groups), [&](std::int64_t task) {
      const std::size_t b = static_cast<std::size_t>(task) / groups;
      const std::size_t g = static_cast<std::size_t>(task) % groups;
      T* out = dst.data() + static_cast<std::size_t>(task) * prow * dg;
      std::fill(out, out + offset * dg, T(0));
      for (std::size_t t = 0; t < time_; ++t) {
        const T* in = src + (b * time_ + t) * d + g * dg;
        std::copy(in, in + dg, out + (offset + t) * dg);
      }
      std::fill(out + (offset + time_) * dg, out + prow * dg, T(0));
    });
  }

  // Output frame t reads input frame t + j - k/2 through tap j: padded frame t + j.
  void pad_input(const T* x) { pad_into(x, padded_x_, options_.kernel / 2); }

  // Input frame s receives output frame t = s + k/2 - j through tap j; with m = k - 1 - j and
  // dPre placed at frame offset k - 1 - k/2, that is padded frame s + m.
  void pad_output_grad() {
    const auto k = options_.kernel;
    pad_into(grad_pre_.data(), padded_dy_, k - 1 - k / 2);
  }

  // w_flip_[g][(m, o), i] = w_[g][o][k - 1 - m][i]
  void flip_weight() {
    const auto d = options_.dim;
    const auto dg = d / options_.groups;
    const auto k = options_.kernel;
    w_flip_.resize(w_.size());
    parallel_for(static_cast<std::int64_t>(options_.groups), [&](std::int64_t g64) {
      const auto g = static_cast<std::size_t>(g64);
      for (std::size_t m = 0; m < k; ++m) {
        for (std::size_t o = 0; o < dg; ++o) {
          const T* src = w_.data() + ((g * dg + o) * k + (k - 1 - m)) * dg;
          std::copy(src, src + dg, w_flip_.data() + ((g * k + m) * dg + o) * dg);
        }
      }
    });
  }

  using gelu_kernels = implementation_t<detail::gelu_op, Backend>;
  pos_conv_options options_;
  parameter<T> bias_, weight_g_, weight_v_;
  std::size_t batch_ = 0;
  std::size_t time_ = 0;
  std::vector<T> w_, w_flip_, norm_, pre_act_, grad_pre_, grad_w_;
  std::vector<T> padded_x_, padded_dy_;  // [batch, groups, time + k - 1, dg]
};

}  // namespace ecgssl::nn

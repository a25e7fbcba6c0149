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
    pre_act_.resize(rows * d);
    auto Pre = as_matrix(pre_act_.data(), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(d));
    const const_vector_map<T> b(bias_.value().data(), static_cast<Eigen::Index>(d));
    Pre.rowwise() = b.transpose();
    for (std::size_t g = 0; g < options_.groups; ++g) {
      im2col(x.data(), g);
      // [rows, k*dg] x [k*dg, dg] -> columns g*dg.. of the output
      const auto Col = as_matrix(static_cast<const T*>(col_.data()), static_cast<Eigen::Index>(rows),
                                 static_cast<Eigen::Index>(k * dg));
      const auto W = as_matrix(static_cast<const T*>(w_.data() + g * dg * k * dg),
                               static_cast<Eigen::Index>(dg), static_cast<Eigen::Index>(k * dg));
      Pre.middleCols(static_cast<Eigen::Index>(g * dg), static_cast<Eigen::Index>(dg)).noalias() +=
          Col * W.transpose();
    }
    y.resize({batch_, time_, d});
    gelu_kernels::forward(pre_act_.data(), y.data(), rows * d);
    detail::copy_into(input_, x);
  }

  // dy: [batch, time, dim]; accumulates dx, d weight_v, d weight_g, d bias.
  void backward(const output_type& dy, input_type& dx) {
    const auto d = options_.dim;
    const auto dg = d / options_.groups;
    const auto k = options_.kernel;
    const auto rows = batch_ * time_;
    require_shape(dy.shape(), std::array<std::size_t, 3>{batch_, time_, d}, "pos_conv.output_grad");
    require_shape(dx.shape(), std::array<std::size_t, 3>{batch_, time_, d}, "pos_conv.input_grad");
    grad_pre_.assign(rows * d, T(0));
    gelu_kernels::backward(pre_act_.data(), dy.data(), grad_pre_.data(), rows * d);
    const auto dPre = as_matrix(static_cast<const T*>(grad_pre_.data()), static_cast<Eigen::Index>(rows),
                                static_cast<Eigen::Index>(d));
    vector_map<T> db(bias_.grad().data(), static_cast<Eigen::Index>(d));
    db += dPre.colwise().sum().transpose();
    grad_w_.assign(w_.size(), T(0));
    for (std::size_t g = 0; g < options_.groups; ++g) {
      im2col(input_.data(), g);
      const auto Col = as_matrix(static_cast<const T*>(col_.data()), static_cast<Eigen::Index>(rows),
                                 static_cast<Eigen::Index>(k * dg));
      const auto W = as_matrix(static_cast<const T*>(w_.data() + g * dg * k * dg),
                               static_cast<Eigen::Index>(dg), static_cast<Eigen::Index>(k * dg));
      const auto dPg = dPre.middleCols(static_cast<Eigen::Index>(g * dg), static_cast<Eigen::Index>(dg));
      auto dW = as_matrix(grad_w_.data() + g * dg * k * dg, static_cast<Eigen::Index>(dg),
                          static_cast<Eigen::Index>(k * dg));
      dW.noalias() += dPg.transpose() * Col;
      auto dCol = as_matrix(col_.data(), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(k * dg));
      dCol.noalias() = dPg * W;
      col2im_add(dx.data(), g);
    }
    weight_norm_backward();
  }

  /// The effective (weight-normalised) kernel of the last forward, laid out
  /// [groups][out dg][k][in dg].
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

  // col_[b*T + t][j*dg + i] = x[b, t + j - k/2, g*dg + i] (zero outside [0, T))
  void im2col(const T* x, std::size_t g) {
    const auto d = options_.dim;
    const auto dg = d / options_.groups;
    const auto k = options_.kernel;
    const auto half = static_cast<std::int64_t>(k / 2);
    col_.resize(batch_ * time_ * k * dg);
    parallel_for(static_cast<std::int64_t>(batch_ * time_), [&](std::int64_t r) {
      const std::size_t b = static_cast<std::size_t>(r) / time_;
      const auto t = static_cast<std::int64_t>(static_cast<std::size_t>(r) % time_);
      T* out = col_.data() + static_cast<std::size_t>(r) * k * dg;
      for (std::size_t j = 0; j < k; ++j) {
        const std::int64_t s = t + static_cast<std::int64_t>(j) - half;
        T* dst = out + j * dg;
        if (s < 0 || s >= static_cast<std::int64_t>(time_)) {
          std::fill(dst, dst + dg, T(0));
        } else {
          const T* src = x + (b * time_ + static_cast<std::size_t>(s)) * d + g * dg;
          std::copy(src, src + dg, dst);
        }
      }
    });
  }

  // Adds the column gradient back onto dx (the transpose of im2col). Parallel over output
  // frames of dx, each gathering its contributions in a fixed order.
  void col2im_add(T* dx, std::size_t g) {
    const auto d = options_.dim;
    const auto dg = d / options_.groups;
    const auto k = options_.kernel;
    const auto half = static_cast<std::int64_t>(k / 2);
    const auto time = static_cast<std::int64_t>(time_);
    parallel_for(static_cast<std::int64_t>(batch_ * time_), [&](std::int64_t r) {
      const std::size_t b = static_cast<std::size_t>(r) / time_;
      const auto s = static_cast<std::int64_t>(static_cast<std::size_t>(r) % time_);
      T* dst = dx + static_cast<std::size_t>(r) * d + g * dg;
      // frame s receives from output frame t = s - j + half for every tap j with t in [0, T)
      for (std::size_t j = 0; j < k; ++j) {
        const std::int64_t t = s - static_cast<std::int64_t>(j) + half;
        if (t < 0 || t >= time) continue;
        const T* src = col_.data() + ((b * time_ + static_cast<std::size_t>(t)) * k + j) * dg;
        for (std::size_t i = 0; i < dg; ++i) dst[i] += src[i];
      }
    });
  }

  using gelu_kernels = implementation_t<detail::gelu_op, Backend>;
  pos_conv_options options_;
  parameter<T> bias_, weight_g_, weight_v_;
  std::size_t batch_ = 0;
  std::size_t time_ = 0;
  input_type input_;
  std::vector<T> w_, norm_, col_, pre_act_, grad_pre_, grad_w_;
};

}  // namespace ecgssl::nn

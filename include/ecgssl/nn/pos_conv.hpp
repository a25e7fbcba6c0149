#pragma once
/// \file pos_conv.hpp
/// Convolutional positional embedding (spec §3.6):
///   pos = GELU(SamePad(WeightNorm_dim2(Conv1d(D -> D, k, padding k/2, groups G, bias))(h)))
/// Weight norm over the kernel axis: w[:, :, j] = g_j * v[:, :, j] / ||v[:, :, j]||_F, with
/// weight_v [D, D/G, k] and weight_g [1, 1, k]. SamePad drops the last output frame (even k),
/// so the output has the input's length. The output is the embedding only; the encoder adds it.

#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../core/tensor.hpp"
#include "detail/common.hpp"
#include "detail/pos_conv_kernels.hpp"

namespace ecgssl::nn {

/// Options of pos_conv (defaults = spec §3.6).
struct pos_conv_options {
  std::size_t dim = 768;      ///< D (in = out channels)
  std::size_t kernel = 128;   ///< k (even; padding k/2, last frame trimmed)
  std::size_t groups = 16;    ///< G, must divide D
};

/// h: [batch, time, dim] -> pos: [batch, time, dim] on backend `Backend`: host, or cuda (include
/// <ecgssl/cuda/pos_conv_kernels.cuh> and <ecgssl/cuda/device_tensor.cuh>; device tensors, the
/// parameters read from the store's device mirror).
template <class T, class Backend = host>
class pos_conv {
 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = backend_tensor_t<T, 3, Backend>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, 3, Backend>;

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
    detail::require_declared(weight_v_.valid(), "pos_conv.");
    batch_ = x.shape()[0];
    time_ = x.shape()[1];
    detail::ensure_shape(y, x.shape());
    kernels::forward(geometry(), x.data(), detail::values_of<Backend>(weight_v_),
                     detail::values_of<Backend>(weight_g_), detail::values_of<Backend>(bias_), y.data(),
                     workspace_);
    have_forward_ = true;
  }

  // dy: [batch, time, dim]; accumulates dx, d weight_v, d weight_g, d bias.
  void backward(const output_type& dy, input_type& dx) {
    detail::require_forward_done(have_forward_, "pos_conv.");
    const auto d = options_.dim;
    require_shape(dy.shape(), std::array<std::size_t, 3>{batch_, time_, d}, "pos_conv.output_grad");
    require_shape(dx.shape(), std::array<std::size_t, 3>{batch_, time_, d}, "pos_conv.input_grad");
    kernels::backward(geometry(), detail::values_of<Backend>(weight_v_), detail::values_of<Backend>(weight_g_),
                      dy.data(), dx.data(), detail::grads_of<Backend>(weight_v_),
                      detail::grads_of<Backend>(weight_g_), detail::grads_of<Backend>(bias_), workspace_);
  }

  /// The normalised weight of the last forward, [groups][dim/groups][kernel][dim/groups]
  /// (host backend only).
  [[nodiscard]] const std::vector<T>& effective_weight() const
    requires std::is_same_v<Backend, host>
  {
    return workspace_.w;
  }

 private:
  using kernels = implementation_t<detail::pos_conv_op, Backend>;

  [[nodiscard]] detail::pos_conv_geometry geometry() const {
    return {batch_, time_, options_.dim, options_.groups, options_.kernel};
  }

  pos_conv_options options_;
  parameter<T> bias_, weight_g_, weight_v_;
  std::size_t batch_ = 0;
  std::size_t time_ = 0;
  bool have_forward_ = false;
  typename kernels::template workspace<T> workspace_;  // the backend chooses its scratch storage
};

}  // namespace ecgssl::nn

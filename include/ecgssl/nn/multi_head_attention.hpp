#pragma once
/// \file multi_head_attention.hpp
/// Multi-head self-attention (spec §3.7): separate q/k/v/out projections with bias, H heads of
/// size d = D/H, scores scaled by 1/sqrt(d), softmax, dropout on the probabilities, optional key
/// padding mask. `legacy_batch_axis` reproduces the paper-era fairseq-signals code, whose
/// attention mixes the samples of the batch at each time step instead of the time steps of one
/// sample (spec §3.7 point 5); it is off by default.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../core/tensor.hpp"
#include "../core/threading.hpp"
#include "detail/attention_core.hpp"
#include "detail/common.hpp"
#include "detail/elementwise_kernels.hpp"
#include "detail/gemm.hpp"
#include "linear.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace ecgssl::nn {

/// Options of multi_head_attention.
struct attention_options {
  std::size_t dim = 768;             ///< D, model width
  std::size_t heads = 12;            ///< H, must divide D
  double attention_dropout = 0.0;    ///< dropout on the attention probabilities
  bool legacy_batch_axis = false;    ///< attend over the batch axis (paper-era bug, §3.7)
};

/// Self-attention over x: [batch, time, dim] -> y: [batch, time, dim].
template <class T, class Backend = host>
class multi_head_attention {
 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = backend_tensor_t<T, 3, Backend>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, 3, Backend>;

  explicit multi_head_attention(attention_options options = {}) : options_(options) {
    if (options_.heads == 0 || options_.dim == 0 || options_.dim % options_.heads != 0) {
      throw config_error(at_field("attention.heads"),
                         "dim " + std::to_string(options_.dim) + " is not divisible by heads " +
                             std::to_string(options_.heads),
                         "heads > 0 dividing dim");
    }
    if (!(options_.attention_dropout >= 0.0 && options_.attention_dropout < 1.0)) {
      throw config_error(at_field("attention.attention_dropout"),
                         "probability " + std::to_string(options_.attention_dropout), "a value in [0, 1)");
    }
  }

  [[nodiscard]] const attention_options& options() const { return options_; }

  /// Declares {q,k,v,out}_proj.weight [D, D] and .bias [D] under `prefix` (e.g.
  /// "encoder.layers.0.self_attn.").
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    name_ = prefix;
    q_.declare_parameters(store, prefix + "q_proj.");
    k_.declare_parameters(store, prefix + "k_proj.");
    v_.declare_parameters(store, prefix + "v_proj.");
    out_.declare_parameters(store, prefix + "out_proj.");
  }

  /// init_bert_params (spec §3.10): every projection N(0, 0.02^2), bias 0.
  void initialize(const random_stream& rng) {
    q_.initialize(detail::child_stream(rng, 0));
    k_.initialize(detail::child_stream(rng, 1));
    v_.initialize(detail::child_stream(rng, 2));
    out_.initialize(detail::child_stream(rng, 3));
  }

  void set_training(bool training) { training_ = training; }
  /// The stream the next training forward draws its probability-dropout mask from.
  void set_random_stream(const random_stream& rng) { rng_ = rng; }
  /// Uses `keep` (0/1 per probability, [groups * heads, L, L] as probabilities()) instead of
  /// random draws until clear_mask(): parity tests feed PyTorch's mask this way.
  void set_probability_mask(const std::vector<T>& keep) {
    const T scale = static_cast<T>(1.0 / (1.0 - options_.attention_dropout));
    injected_.resize(keep.size());
    for (std::size_t i = 0; i < keep.size(); ++i) {
      if (keep[i] != T(0) && keep[i] != T(1)) {
        throw data_error(at_field(name_ + "attention dropout mask"),
                         "element " + std::to_string(i) + " is " + std::to_string(keep[i]), "0 or 1");
      }
      injected_[i] = keep[i] * scale;
    }
    use_injected_ = true;
  }
  void clear_mask() { use_injected_ = false; }

  /// Key padding mask: [batch, time], nonzero = padded key (never attended to). Empty = none.
  /// Not available with legacy_batch_axis (the paper-era code never had padding).
  void set_key_padding_mask(const tensor<std::uint8_t, 2>& mask) {
    if (mask.size() != 0 && options_.legacy_batch_axis) {
      throw config_error(at_field("attention.key_padding_mask"),
                         "a key padding mask was given with legacy_batch_axis attention",
                         "no padding mask in legacy mode");
    }
    for (std::size_t b = 0; mask.size() != 0 && b < mask.shape()[0]; ++b) {
      bool any_key = false;
      for (std::size_t t = 0; t < mask.shape()[1]; ++t) any_key = any_key || mask(b, t) == 0;
      if (!any_key) {
        throw data_error(at_field("attention.key_padding_mask"),
                         "sample " + std::to_string(b) + " has every key padded",
                         "at least one unpadded frame per sample");
      }
    }
    padding_ = mask;
    has_padding_ = mask.size() != 0;
  }

  // x: [batch, time, dim] -> y: [batch, time, dim]
  void forward(const input_type& x, output_type& y) {
    const auto batch = x.shape()[0];
    const auto time = x.shape()[1];
    const auto d = options_.dim;
    if (x.shape()[2] != d) {
      throw shape_error(at_field("attention.input"), "got shape " + shape_string(x.shape()),
                        "[batch, time, " + std::to_string(d) + "]");
    }
    if (has_padding_) {
      require_shape(padding_.shape(), std::array<std::size_t, 2>{batch, time}, "attention.key_padding_mask");
    }
    if constexpr (!std::is_same_v<Backend, host>) {
      if (options_.legacy_batch_axis) {
        throw config_error(at_field(name_ + "attention.legacy_batch_axis"),
                           std::string("legacy_batch_axis attention on the ") + Backend::name + " backend",
                           "time-axis attention (legacy_batch_axis = false), the only layout there");
      }
    }
    batch_ = batch;
    time_ = time;
    const std::size_t rows = batch * time;
    (void)rows;
    q_.forward(x, q_buf_);
    k_.forward(x, k_buf_);
    v_.forward(x, v_buf_);
    detail::ensure_shape(ctx_buf_, x.shape());

    const auto [groups, length] = layout();
    const std::size_t h = options_.heads;
    probs_.resize(groups * h * length * length);
    dropout_active_ = training_ && options_.attention_dropout > 0.0;
    if (dropout_active_) {
      if (use_injected_) {
        if (injected_.size() != probs_.size()) {
          throw shape_error(at_field(name_ + "attention dropout mask"),
                            std::to_string(injected_.size()) + " elements",
                            std::to_string(probs_.size()) + " (groups * heads * L * L)");
        }
        if constexpr (std::is_same_v<Backend, host>) {
          probs_scale_ = injected_;
        } else {
          probs_scale_.resize(injected_.size());
          probs_scale_.copy_from_host(std::span<const T>(injected_));
        }
      } else {
        if (!rng_) {
          throw config_error(at_field(name_ + "attention dropout"),
                             "training forward without a random stream",
                             "set_random_stream() before forward in training mode");
        }
        probs_scale_.resize(probs_.size());
        dropout_kernels::draw_mask(*rng_, options_.attention_dropout, probs_scale_.data(), probs_scale_.size());
      }
    }
    if constexpr (!std::is_same_v<Backend, host>) {
      const std::uint8_t* padding = nullptr;
      if (has_padding_) {
        state_.padding.resize(padding_.size());
        state_.padding.copy_from_host(std::span<const std::uint8_t>(padding_.data(), padding_.size()));
        padding = state_.padding.data();
      }
      core_kernels::forward(core_geometry(), q_buf_.data(), k_buf_.data(), v_buf_.data(), padding,
                            dropout_active_ ? probs_scale_.data() : nullptr, probs_.data(),
                            ctx_buf_.data(), state_.workspace);
      out_.forward(ctx_buf_, y);
      return;
    }
    prepare_workspaces(length);
    const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d / h)));

    parallel_for(static_cast<std::int64_t>(groups * h), [&](std::int64_t gh) {
      const auto g = static_cast<std::size_t>(gh) / h;
      const auto head = static_cast<std::size_t>(gh) % h;
      auto Q = head_view(q_buf_.data(), g, head);
      auto K = head_view(k_buf_.data(), g, head);
      auto V = head_view(v_buf_.data(), g, head);
      auto C = head_view(ctx_buf_.data(), g, head);
      T* p = probs_.data() + static_cast<std::size_t>(gh) * length * length;
      auto P = as_matrix(p, static_cast<Eigen::Index>(length), static_cast<Eigen::Index>(length));
      detail::serial_gemm(P, Q, K.transpose(), false, scale);
      for (std::size_t i = 0; i < length; ++i) {
        T* row = p + i * length;
        if (has_padding_) {
          for (std::size_t j = 0; j < length; ++j) {
            if (padding_(g, j) != 0) row[j] = -std::numeric_limits<T>::infinity();
          }
        }
        T mx = -std::numeric_limits<T>::infinity();
        for (std::size_t j = 0; j < length; ++j) mx = std::max(mx, row[j]);
        T sum = 0;
        for (std::size_t j = 0; j < length; ++j) {
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        const T inv = T(1) / sum;
        for (std::size_t j = 0; j < length; ++j) row[j] *= inv;
      }
      if (dropout_active_) {
        auto& W = workspace(0);
        const T* s = probs_scale_.data() + static_cast<std::size_t>(gh) * length * length;
        for (std::size_t i = 0; i < length * length; ++i) W.data()[i] = p[i] * s[i];
        detail::serial_gemm(C, W, V, false);
      } else {
        detail::serial_gemm(C, P, V, false);
      }
    });

    out_.forward(ctx_buf_, y);
  }

  // dy: [batch, time, dim]; accumulates dx and the parameter gradients.
  void backward(const output_type& dy, input_type& dx) {
    const auto d = options_.dim;
    const std::size_t rows = batch_ * time_;
    require_shape(dy.shape(), std::array<std::size_t, 3>{batch_, time_, d}, "attention.output_grad");
    require_shape(dx.shape(), std::array<std::size_t, 3>{batch_, time_, d}, "attention.input_grad");
    (void)rows;
    detail::zero_like(dctx_, dy.shape());
    out_.backward(dy, dctx_);

    if constexpr (!std::is_same_v<Backend, host>) {
      // The device core accumulates into dq/dk/dv.
      detail::zero_like(dq_, dy.shape());
      detail::zero_like(dk_, dy.shape());
      detail::zero_like(dv_, dy.shape());
      core_kernels::backward(core_geometry(), q_buf_.data(), k_buf_.data(), v_buf_.data(), probs_.data(),
                             dropout_active_ ? probs_scale_.data() : nullptr, dctx_.data(), dq_.data(),
                             dk_.data(), dv_.data(), state_.workspace);
      q_.backward(dq_, dx);
      k_.backward(dk_, dx);
      v_.backward(dv_, dx);
      return;
    }
    const auto [groups, length] = layout();
    const std::size_t h = options_.heads;
    detail::ensure_shape(dq_, dy.shape());
    detail::ensure_shape(dk_, dy.shape());
    detail::ensure_shape(dv_, dy.shape());
    prepare_workspaces(length);
    const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d / h)));

    parallel_for(static_cast<std::int64_t>(groups * h), [&](std::int64_t gh) {
      const auto g = static_cast<std::size_t>(gh) / h;
      const auto head = static_cast<std::size_t>(gh) % h;
      auto Q = head_view(q_buf_.data(), g, head);
      auto K = head_view(k_buf_.data(), g, head);
      auto V = head_view(v_buf_.data(), g, head);
      auto dC = head_view(dctx_.data(), g, head);
      auto dQ = head_view(dq_.data(), g, head);
      auto dK = head_view(dk_.data(), g, head);
      auto dV = head_view(dv_.data(), g, head);
      const T* p = probs_.data() + static_cast<std::size_t>(gh) * length * length;
      const auto P = as_matrix(p, static_cast<Eigen::Index>(length), static_cast<Eigen::Index>(length));
      auto& dP = workspace(1);
      detail::serial_gemm(dP, dC, V.transpose(), false);  // gradient w.r.t. the (dropped-out) probabilities
      if (dropout_active_) {
        auto& W = workspace(0);
        const T* s = probs_scale_.data() + static_cast<std::size_t>(gh) * length * length;
        for (std::size_t i = 0; i < length * length; ++i) {
          W.data()[i] = p[i] * s[i];
          dP.data()[i] *= s[i];
        }
        detail::serial_gemm(dV, W.transpose(), dC, false);
      } else {
        detail::serial_gemm(dV, P.transpose(), dC, false);
      }
      // softmax backward: dS = P .* (dP - rowsum(dP .* P))
      for (std::size_t i = 0; i < length; ++i) {
        T* dr = dP.data() + i * length;
        const T* pr = p + i * length;
        T dot = 0;
        for (std::size_t j = 0; j < length; ++j) dot += dr[j] * pr[j];
        for (std::size_t j = 0; j < length; ++j) dr[j] = pr[j] * (dr[j] - dot) * scale;
      }
      detail::serial_gemm(dQ, dP, K, false);
      detail::serial_gemm(dK, dP.transpose(), Q, false);
    });

    q_.backward(dq_, dx);
    k_.backward(dk_, dx);
    v_.backward(dv_, dx);
  }

  /// Attention probabilities of the last forward (before dropout): [groups * heads, L, L] where
  /// groups = batch (time attention) or time (legacy), L = time (or batch in legacy mode).
  /// On cuda: a device_buffer.
  [[nodiscard]] const backend_array_t<T, Backend>& probabilities() const { return probs_; }

 private:
  using strided_map = Eigen::Map<row_matrix<T>, 0, Eigen::OuterStride<>>;

  // (number of independent sequences, sequence length)
  [[nodiscard]] std::pair<std::size_t, std::size_t> layout() const {
    return options_.legacy_batch_axis ? std::pair{time_, batch_} : std::pair{batch_, time_};
  }

  // Rows of one head of one sequence inside a [batch * time, dim] buffer: sequence g of the
  // time attention is sample g (rows g*T .. g*T+T-1); in legacy mode it is time step g
  // (rows g, T+g, 2T+g, ...).
  strided_map head_view(T* base, std::size_t g, std::size_t head) const {
    const auto d = options_.dim;
    const auto dh = d / options_.heads;
    const auto [groups, length] = layout();
    (void)groups;
    if (options_.legacy_batch_axis) {
      return strided_map(base + g * d + head * dh, static_cast<Eigen::Index>(length),
                         static_cast<Eigen::Index>(dh), Eigen::OuterStride<>(static_cast<Eigen::Index>(time_ * d)));
    }
    return strided_map(base + g * time_ * d + head * dh, static_cast<Eigen::Index>(length),
                       static_cast<Eigen::Index>(dh), Eigen::OuterStride<>(static_cast<Eigen::Index>(d)));
  }

  void prepare_workspaces(std::size_t length) {
    const auto threads = static_cast<std::size_t>(std::max(1, max_threads()));
    workspaces_.resize(2 * threads);
    for (auto& w : workspaces_) w.resize(static_cast<Eigen::Index>(length), static_cast<Eigen::Index>(length));
  }
  row_matrix<T>& workspace(std::size_t which) {
#if defined(_OPENMP)
    const auto thread = static_cast<std::size_t>(omp_get_thread_num());
#else
    const std::size_t thread = 0;
#endif
    return workspaces_[2 * thread + which];
  }

  using dropout_kernels = implementation_t<detail::dropout_op, Backend>;
  // The device core (time-axis layout only); host: unused.
  template <class B = Backend>
  using core_kernels_for = implementation_t<detail::attention_core_op, B>;
  struct core_kernels {
    template <class... A>
    static void forward(A&&... a) { core_kernels_for<>::forward(std::forward<A>(a)...); }
    template <class... A>
    static void backward(A&&... a) { core_kernels_for<>::backward(std::forward<A>(a)...); }
  };
  [[nodiscard]] auto core_geometry() const {
    return typename core_kernels_for<>::geometry{batch_, time_, options_.dim, options_.heads};
  }
  [[nodiscard]] static linear_options projection(std::size_t d) {
    return {.in_features = d, .out_features = d, .bias = true, .init = linear_init::normal, .init_std = 0.02};
  }

  attention_options options_;
  std::string name_;
  linear<T, Backend, 3> q_{projection(options_.dim)}, k_{projection(options_.dim)},
      v_{projection(options_.dim)}, out_{projection(options_.dim)};
  tensor<std::uint8_t, 2> padding_;
  bool has_padding_ = false;
  bool training_ = true;
  bool dropout_active_ = false;
  bool use_injected_ = false;
  std::optional<random_stream> rng_;
  std::size_t batch_ = 0;
  std::size_t time_ = 0;
  backend_tensor_t<T, 3, Backend> q_buf_, k_buf_, v_buf_, ctx_buf_, dctx_, dq_, dk_, dv_;
  backend_array_t<T, Backend> probs_, probs_scale_;  // [groups * heads, L, L]
  std::vector<T> injected_;                           // host, pre-scaled
  detail::attention_state<Backend, T> state_;
  std::vector<row_matrix<T>> workspaces_;
};

}  // namespace ecgssl::nn

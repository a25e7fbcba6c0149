#pragma once
/// \file gumbel_quantizer.hpp
/// Gumbel vector quantizer of wav2vec 2.0 (spec §3.8): G groups of V codes.
///   logits = weight_proj(x)                       x: [N, C] -> [N, G*V]
///   training: k = argmax(logits + gumbel); forward one-hot (hard), backward through
///             softmax((logits + gumbel) / tau) (straight-through, gumbel_softmax(hard=True))
///   eval:     k = argmax(logits), no gradient to the logits through the codes
///   q[n, g*d:(g+1)*d] = vars[0, g*V + k_g, :]     q: [N, vq_dim], d = vq_dim / G
///   tau(u) = max(max_temp * decay^u, min_temp) after u optimizer updates
///   prob_perplexity = sum_g exp(-sum_v pbar_gv log(pbar_gv + 1e-7)), pbar = mean over positions
///   of softmax(logits_g) (no noise, tau 1); code_perplexity the same with argmax one-hots.
/// The diversity loss uses prob_perplexity, so backward also takes its gradient.
/// Backend-generic: on cuda the input, output and logits are device tensors and the per-row
/// math runs in implementation<gumbel_quantizer_op, cuda> (cuda/gumbel_quantizer_kernels.cuh);
/// the perplexities, the temperature and codes() stay on the host (each forward downloads the
/// [2, G, V] column sums and the [N, G] codes: one small synchronisation).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "../core/threading.hpp"
#include "detail/common.hpp"
#include "detail/gumbel_quantizer_kernels.hpp"
#include "linear.hpp"

namespace ecgssl::nn {

/// Options of gumbel_quantizer (defaults = spec §3.8).
struct gumbel_quantizer_options {
  std::size_t input_dim = 256;  ///< C
  std::size_t groups = 2;       ///< G
  std::size_t codes = 320;      ///< V per group
  std::size_t vq_dim = 256;     ///< output width; each group's code has vq_dim / G entries
  double max_temp = 2.0;
  double min_temp = 0.5;
  double temp_decay = 0.999995;
};

/// x: [N, C] -> q: [N, vq_dim].
template <class T, class Backend = host>
class gumbel_quantizer {
 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = backend_tensor_t<T, 2, Backend>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, 2, Backend>;

  explicit gumbel_quantizer(gumbel_quantizer_options options = {})
      : options_(validated(options)),
        proj_(linear_options{options.input_dim, options.groups * options.codes, true,
                             linear_init::normal, 1.0}) {
    set_num_updates(0);
  }

  [[nodiscard]] const gumbel_quantizer_options& options() const { return options_; }

  /// Declares `<prefix>vars` [1, G*V, vq_dim/G] and `<prefix>weight_proj.{weight,bias}`.
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    const auto gv = options_.groups * options_.codes;
    vars_ = store.add(prefix + "vars", {1, gv, options_.vq_dim / options_.groups});
    proj_.declare_parameters(store, prefix + "weight_proj.");
  }
  /// Spec §3.10: vars ~ U[0, 1), weight_proj N(0, 1), bias 0 (on the host store).
  void initialize(const random_stream& rng) {
    auto v = vars_.value();
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(rng.uniform(i));
    proj_.initialize(detail::child_stream(rng, 1));
  }

  void set_training(bool training) { training_ = training; }
  /// Temperature for `updates` optimizer updates done so far.
  void set_num_updates(std::int64_t updates) {
    temperature_ = std::max(options_.max_temp * std::pow(options_.temp_decay, static_cast<double>(updates)),
                            options_.min_temp);
  }
  [[nodiscard]] double temperature() const { return temperature_; }
  /// The stream the next training forward draws its Gumbel noise from (draw n*G*V + j; on cuda
  /// the device draws the same Philox numbers).
  void set_random_stream(const random_stream& rng) { rng_ = rng; }
  /// Uses explicit Gumbel noise [N, G*V] (a host tensor; uploaded on cuda) instead of drawing
  /// it, until clear_noise().
  void set_gumbel_noise(const tensor<T, 2>& noise) {
    noise_ = noise;
    use_injected_ = true;
    noise_uploaded_ = false;
  }
  void clear_noise() { use_injected_ = false; }

  // x: [N, C] -> q: [N, vq_dim]
  void forward(const input_type& x, output_type& q) {
    const auto n = x.shape()[0];
    const auto g_count = options_.groups;
    const auto v_count = options_.codes;
    const auto d = options_.vq_dim / g_count;
    const auto gv = g_count * v_count;
    if (n == 0) {
      throw shape_error(at_field("gumbel_quantizer.input"), "no positions to quantize", "N > 0 rows");
    }
    const bool noisy = training_;
    if (noisy) {
      if (use_injected_) {
        require_shape(noise_.shape(), std::array<std::size_t, 2>{n, gv}, "gumbel_quantizer.noise");
      } else if (!rng_) {
        throw config_error(at_field("gumbel_quantizer"), "training forward without a random stream",
                           "set_random_stream() before forward in training mode");
      }
    }
    proj_.forward(x, logits_);
    rows_ = n;
    codes_.resize(n * g_count);
    hard_.resize(n * g_count);
    probs_.resize(n * gv);
    if (noisy) soft_.resize(n * gv);
    stats_.resize(2 * gv);
    const T inv_tau = static_cast<T>(1.0 / temperature_);
    const T* noise = noisy && use_injected_ ? noise_where_computed() : nullptr;
    kernels::select(logits_.data(), noise, rng_ ? &*rng_ : nullptr, noisy, inv_tau, probs_.data(), soft_.data(),
                    hard_.data(), codes_.data(), n, g_count, v_count);
    kernels::statistics(probs_.data(), hard_.data(), stats_.data(), n, g_count, v_count);
    const double* stats = stats_.data();
    if constexpr (!std::is_same_v<Backend, host>) {  // the one synchronisation of the forward
      stats_host_.resize(2 * gv);
      stats_.copy_to_host(std::span<double>(stats_host_));
      host_codes_.resize(n * g_count);
      codes_.copy_to_host(std::span<std::int64_t>(host_codes_));
      stats = stats_host_.data();
    }
    // perplexities from the column sums (taken over positions in position order)
    prob_perplexity_ = 0;
    code_perplexity_ = 0;
    mean_probs_.assign(gv, 0.0);
    group_perplexity_.assign(g_count, 0.0);
    for (std::size_t g = 0; g < g_count; ++g) {
      double h_prob = 0;
      double h_code = 0;
      for (std::size_t v = 0; v < v_count; ++v) {
        auto& pbar = mean_probs_[g * v_count + v];
        pbar = stats[g * v_count + v] / static_cast<double>(n);
        h_prob -= pbar * std::log(pbar + 1e-7);
        const double c = stats[gv + g * v_count + v] / static_cast<double>(n);
        h_code -= c * std::log(c + 1e-7);
      }
      group_perplexity_[g] = std::exp(h_prob);
      prob_perplexity_ += group_perplexity_[g];
      code_perplexity_ += std::exp(h_code);
    }
    // q = concat over groups of the selected codes
    detail::ensure_shape(q, std::array<std::size_t, 2>{n, options_.vq_dim});
    kernels::lookup(codes_.data(), detail::values_of<Backend>(vars_), q.data(), n, g_count, v_count, d);
  }

  /// Accumulates dx and the parameter gradients for dq (no perplexity gradient).
  void backward(const output_type& dq, input_type& dx) { backward(dq, T(0), dx); }

  /// Accumulates dx and the parameter gradients given dq: [N, vq_dim] and the gradient of the
  /// objective with respect to prob_perplexity.
  void backward(const output_type& dq, T d_prob_perplexity, input_type& dx) {
    const auto n = rows_;
    const auto g_count = options_.groups;
    const auto v_count = options_.codes;
    const auto d = options_.vq_dim / g_count;
    require_shape(dq.shape(), std::array<std::size_t, 2>{n, options_.vq_dim}, "gumbel_quantizer.output_grad");
    // vars: the forward weights are one-hot, so each position adds dq to its selected codes.
    kernels::vars_backward(dq.data(), codes_.data(), detail::grads_of<Backend>(vars_), n, g_count, v_count, d);
    detail::ensure_shape(dlogits_, logits_.shape());
    const T* dpbar = nullptr;
    if (d_prob_perplexity != T(0)) {
      dpbar_host_.resize(g_count * v_count);
      for (std::size_t g = 0; g < g_count; ++g) {
        for (std::size_t v = 0; v < v_count; ++v) {
          const double pbar = mean_probs_[g * v_count + v];
          const double dh = -(std::log(pbar + 1e-7) + pbar / (pbar + 1e-7));
          dpbar_host_[g * v_count + v] = static_cast<T>(static_cast<double>(d_prob_perplexity) *
                                                        group_perplexity_[g] * dh / static_cast<double>(n));
        }
      }
      if constexpr (std::is_same_v<Backend, host>) {
        dpbar = dpbar_host_.data();
      } else {
        dpbar_.resize(dpbar_host_.size());
        dpbar_.copy_from_host(std::span<const T>(dpbar_host_));
        dpbar = dpbar_.data();
      }
    }
    kernels::logits_backward(dq.data(), detail::values_of<Backend>(vars_), soft_.data(), probs_.data(), dpbar,
                             training_, static_cast<T>(1.0 / temperature_), dlogits_.data(), n, g_count, v_count,
                             d);
    proj_.backward(dlogits_, dx);
  }

  [[nodiscard]] double prob_perplexity() const { return prob_perplexity_; }
  [[nodiscard]] double code_perplexity() const { return code_perplexity_; }
  /// Selected code per position and group of the last forward, [N * G] (index within the group),
  /// on the host on every backend.
  [[nodiscard]] const std::vector<std::int64_t>& codes() const {
    if constexpr (std::is_same_v<Backend, host>) {
      return codes_;
    } else {
      return host_codes_;
    }
  }
  /// Logits of the last forward, [N, G*V] (where the backend keeps them).
  [[nodiscard]] const backend_tensor_t<T, 2, Backend>& logits() const { return logits_; }

 private:
  static gumbel_quantizer_options validated(const gumbel_quantizer_options& o) {
    if (o.groups == 0 || o.codes == 0 || o.input_dim == 0 || o.vq_dim % std::max<std::size_t>(o.groups, 1) != 0) {
      throw config_error(at_field("gumbel_quantizer.vq_dim"),
                         "groups " + std::to_string(o.groups) + ", codes " + std::to_string(o.codes) +
                             ", vq_dim " + std::to_string(o.vq_dim),
                         "positive groups and codes, vq_dim divisible by groups");
    }
    if (!(o.min_temp > 0.0 && o.max_temp >= o.min_temp && o.temp_decay > 0.0)) {
      throw config_error(at_field("gumbel_quantizer.temperature"),
                         "max " + std::to_string(o.max_temp) + ", min " + std::to_string(o.min_temp) +
                             ", decay " + std::to_string(o.temp_decay),
                         "0 < min_temp <= max_temp and decay > 0");
    }
    return o;
  }

  gumbel_quantizer_options options_;
  linear<T, Backend, 2> proj_;
  parameter<T> vars_;
  bool training_ = true;
  bool use_injected_ = false;
  double temperature_ = 2.0;
  std::optional<random_stream> rng_;
  tensor<T, 2> noise_;
  backend_array_t<T, Backend> device_noise_;  // cuda: noise_ uploaded by the first forward using it
  bool noise_uploaded_ = false;
  backend_tensor_t<T, 2, Backend> logits_, dlogits_;
  std::size_t rows_ = 0;
  backend_array_t<std::int64_t, Backend> codes_, hard_;  // [N, G]
  backend_array_t<T, Backend> probs_, soft_;             // [N, G, V]
  backend_array_t<double, Backend> stats_;               // [2, G, V]
  backend_array_t<T, Backend> dpbar_;                    // cuda: [G, V] uploaded by backward
  std::vector<std::int64_t> host_codes_;                 // cuda: codes_ downloaded
  std::vector<double> stats_host_;                       // cuda: stats_ downloaded
  std::vector<T> dpbar_host_;
  std::vector<double> mean_probs_;
  std::vector<double> group_perplexity_;
  double prob_perplexity_ = 0;
  double code_perplexity_ = 0;

  using kernels = implementation_t<detail::gumbel_quantizer_op, Backend>;

  // The injected noise where the kernels run: the host tensor, or its device copy.
  const T* noise_where_computed() {
    if constexpr (std::is_same_v<Backend, host>) {
      return noise_.data();
    } else {
      if (!noise_uploaded_) {
        device_noise_.resize(noise_.size());
        device_noise_.copy_from_host(std::span<const T>(noise_.data(), noise_.size()));
        noise_uploaded_ = true;
      }
      return device_noise_.data();
    }
  }
};

}  // namespace ecgssl::nn

#pragma once
/// \file baseline_wander.hpp
/// Baseline wander (spec §7 Table 4 notes): lead l gets
///     C_l * sum_{k<K} a_k cos(2 pi f_k t / fs + phi_k),
/// K = 3 components shared by all leads with f_k ~ U(0.01, 0.2) Hz, a_k ~ U(min, max),
/// phi_k ~ U(0, 2 pi), and a per-lead scale C_l ~ N(1, 0.5^2); then the limb leads are
/// re-derived (dependency).
///
/// Draws: sub-stream "wander": uniform 0 = apply gate, 1 + k = a_k, 1 + K + 2k = f_k,
/// 2 + K + 2k = phi_k; sub-stream "wander_gauss": normal(l) gives C_l.

#include <array>
#include <cmath>
#include <numbers>
#include <vector>

#include "../core/concepts.hpp"
#include "detail/physio.hpp"

namespace ecgssl::signal {

/// Additive low-frequency baseline wander on x: [leads, samples].
class baseline_wander {
 public:
  static constexpr int max_components = 16;

  explicit baseline_wander(physio_options options = {}, int components = 3, double min_frequency = 0.01,
                           double max_frequency = 0.2, double scale_sd = 0.5)
      : options_(options), components_(components), min_f_(min_frequency), max_f_(max_frequency), scale_sd_(scale_sd) {
    options_.validate();
    if (components_ < 1 || components_ > max_components) {
      throw config_error(at_field("components"), std::to_string(components_), "1..16 components");
    }
    if (!(min_f_ > 0.0 && min_f_ <= max_f_)) {
      throw config_error(at_field("max_frequency"), std::to_string(min_f_) + ".." + std::to_string(max_f_) + " Hz",
                         "0 < min_frequency <= max_frequency");
    }
  }

  void apply(tensor<float, 2>& x, signal_context& ctx) const {
    detail::check_dependency(x, options_);
    const auto rng = detail::sub_stream(ctx.rng, detail::physio_tag::wander);
    if (!(options_.probability > rng.uniform(0))) return;
    const auto gauss = detail::sub_stream(ctx.rng, detail::physio_tag::wander_gauss);
    const std::size_t leads = x.shape()[0];
    const std::size_t n = x.shape()[1];
    const auto k_count = static_cast<std::uint64_t>(components_);
    std::array<double, max_components> a{}, f{}, phi{};
    for (std::uint64_t k = 0; k < k_count; ++k) {
      a[k] = detail::uniform_in(rng, 1 + k, options_.min_amplitude, options_.max_amplitude);
      f[k] = detail::uniform_in(rng, 1 + k_count + 2 * k, min_f_, max_f_);
      phi[k] = 2.0 * std::numbers::pi * rng.uniform(2 + k_count + 2 * k);
    }
    thread_local std::vector<double> shared;  // reused: no allocation per record
    shared.assign(n, 0.0);
    for (std::uint64_t k = 0; k < k_count; ++k) {
      const double omega = 2.0 * std::numbers::pi * f[k] / ctx.sampling_frequency;
      for (std::size_t t = 0; t < n; ++t) shared[t] += a[k] * std::cos(omega * static_cast<double>(t) + phi[k]);
    }
    for (std::size_t l = 0; l < leads; ++l) {
      const double scale = 1.0 + scale_sd_ * gauss.normal(l);
      float* row = x.data() + l * n;
      for (std::size_t t = 0; t < n; ++t) row[t] += static_cast<float>(scale * shared[t]);
    }
    detail::finish(x, options_);
  }

 private:
  physio_options options_;
  int components_;
  double min_f_;
  double max_f_;
  double scale_sd_;
};

}  // namespace ecgssl::signal

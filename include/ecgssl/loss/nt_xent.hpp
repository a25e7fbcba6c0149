#pragma once
/// \file nt_xent.hpp
/// NT-Xent (SimCLR's normalised temperature-scaled cross-entropy) over 2N embeddings, used by
/// SimCLR(RLM) and 3KG (spec §4.5) and by the paper's Eq. 3 form of CMSC (spec §4.3).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../core/threading.hpp"
#include "detail/common.hpp"
#include "detail/normalize_rows.hpp"

namespace ecgssl {

struct nt_xent_options {
  double temperature = 0.1;  ///< τ
  double norm_eps = 1e-8;    ///< ẑ = z / max(‖z‖, eps)
  bool detach_norm = false;  ///< true: the norm carries no gradient (the CMSC criterion's way)
};

/// z: [2N, dim]; rows i and i+N are the two views of one sample (SimCLR's cat(z1, z2)).
/// sim = ẑẑᵀ/τ; L = (1/2N) Σ_i -log( exp(sim_{i,p(i)}) / Σ_{k≠i} exp(sim_{ik}) ), p(i) = i±N.
template <class T, class Backend = host>
class nt_xent {
  static_assert(loss_detail::host_only_v<Backend>, "ecgssl: this operation has no specialisation for the requested backend");

 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = tensor<T, 2>;  // [2N, dim]

  explicit nt_xent(nt_xent_options options = {}) : options_(options) {
    if (!(options.temperature > 0)) {
      throw config_error(at_field("nt_xent.temperature"), std::to_string(options.temperature), "> 0");
    }
  }

  T forward(const input_type& z) {
    const std::size_t rows = z.shape()[0];
    const std::size_t dim = z.shape()[1];
    if (rows < 2 || rows % 2 != 0) {
      throw shape_error(at_field("nt_xent.embeddings"), "got " + std::to_string(rows) + " rows",
                        "an even number >= 2 of rows ([2N, dim], views i and i+N paired)");
    }
    loss_detail::require_finite(as_span(z), "nt_xent.embeddings");
    const T eps = static_cast<T>(options_.norm_eps);
    loss_detail::normalize_rows(z.data(), rows, dim, eps, z_hat_, norms_);
    probs_.resize({rows, rows});
    as_matrix(probs_).noalias() = as_matrix(z_hat_) * as_matrix(z_hat_).transpose();
    const T inv_tau = static_cast<T>(1.0 / options_.temperature);
    const std::size_t half = rows / 2;
    row_loss_.assign(rows, T(0));
    parallel_for(static_cast<std::int64_t>(rows), [&](std::int64_t ri) {
      const auto i = static_cast<std::size_t>(ri);
      T* p = probs_.data() + i * rows;
      for (std::size_t k = 0; k < rows; ++k) p[k] *= inv_tau;
      p[i] = -std::numeric_limits<T>::infinity();  // self-similarity is not a candidate
      const T lse = loss_detail::log_sum_exp(std::span<const T>(p, rows));
      row_loss_[i] = lse - p[partner(i, half)];
      for (std::size_t k = 0; k < rows; ++k) p[k] = std::exp(p[k] - lse);
    });
    accumulator_t<T> total = 0;
    for (T v : row_loss_) total += v;
    return static_cast<T>(total / static_cast<accumulator_t<T>>(rows));
  }

  /// grad: [2N, dim] += upstream·dL/dz.
  void backward(T upstream, input_type& grad) {
    const std::size_t rows = z_hat_.shape()[0];
    const std::size_t dim = z_hat_.shape()[1];
    require_shape(grad.shape(), z_hat_.shape(), "nt_xent.grad");
    const std::size_t half = rows / 2;
    // dsim = (softmax - onehot(partner)) / 2N; d ẑ = (dsim + dsimᵀ) ẑ / τ.
    dsim_.resize({rows, rows});
    const T scale = upstream / static_cast<T>(rows);
    for (std::size_t i = 0; i < rows; ++i) {
      const T* p = probs_.data() + i * rows;
      T* d = dsim_.data() + i * rows;
      for (std::size_t k = 0; k < rows; ++k) d[k] = scale * p[k];
      d[partner(i, half)] -= scale;
    }
    d_hat_.resize({rows, dim});
    auto dsim = as_matrix(dsim_);
    const T inv_tau = static_cast<T>(1.0 / options_.temperature);
    as_matrix(d_hat_).noalias() = (dsim + dsim.transpose()) * as_matrix(z_hat_) * inv_tau;
    loss_detail::normalize_rows_backward(z_hat_.data(), norms_.data(), d_hat_.data(), rows, dim,
                                         static_cast<T>(options_.norm_eps), grad.data(), options_.detach_norm);
  }

  [[nodiscard]] const nt_xent_options& options() const { return options_; }

 private:
  static std::size_t partner(std::size_t i, std::size_t half) { return i < half ? i + half : i - half; }

  nt_xent_options options_;
  tensor<T, 2> z_hat_, probs_, dsim_, d_hat_;
  std::vector<T> norms_, row_loss_;
};

}  // namespace ecgssl

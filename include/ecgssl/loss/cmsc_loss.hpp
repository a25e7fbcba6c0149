#pragma once
/// \file cmsc_loss.hpp
/// Contrastive Multi-Segment Coding loss (spec §4.3), in the reference criterion's form
/// (N×N cross-segment matrix, symmetric row/column cross-entropy, detached-norm cosine) and,
/// as an option, the paper's Eq. 3 NT-Xent over all 2N segments.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../core/threading.hpp"
#include "detail/common.hpp"
#include "detail/nonzero_mean_pool.hpp"
#include "detail/normalize_rows.hpp"
#include "nt_xent.hpp"

namespace ecgssl {

/// Which CMSC objective.
enum class cmsc_form {
  cross_segment,  ///< the reference code (spec §4.3): A·Bᵀ/τ, row + column cross-entropy
  nt_xent_2n,     ///< the paper's Eq. 3: NT-Xent over all 2N, the pair's other segment positive
};

/// How the cross-segment form averages over positives (they differ only when a record gives
/// several pairs to one micro-batch, spec §4.3).
enum class cmsc_reduction {
  all_positives,  ///< mean over every positive entry (paper-era criterion, Apr 2022)
  per_row_mean,   ///< mean over rows of each row's mean over its positives (Jan 2022 criterion)
};

struct cmsc_options {
  double temperature = 0.1;  ///< τ_c
  double norm_eps = 1e-8;    ///< ĝ = g / max(stopgrad ‖g‖, eps)
  cmsc_form form = cmsc_form::cross_segment;
  cmsc_reduction reduction = cmsc_reduction::all_positives;
};

/// CMSC on encoder outputs x: [2N, frames, dim]. g = non-zero-count temporal mean of x,
/// ĝ = g / max(stopgrad(‖g‖), eps); A = rows with segment 0, B = rows with segment 1 (batch
/// order); Λ = A Bᵀ / τ; P_ij = [record(A_i) == record(B_j)];
/// L = ½ mean_{P} [-log softmax_row(Λ)] + ½ mean_{P} [-log softmax_col(Λ)].
/// With cmsc_form::nt_xent_2n the i-th A row and the i-th B row form the positive pair of an
/// NT-Xent over [A; B] (same detached normalisation).
template <class T, class Backend = host>
class cmsc_loss {
  static_assert(loss_detail::host_only_v<Backend>, "ecgssl: this operation has no specialisation for the requested backend");

 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = tensor<T, 3>;  // encoder outputs: [2N, frames, dim]

  explicit cmsc_loss(cmsc_options options = {})
      : options_(options), nt_xent_({options.temperature, options.norm_eps, /*detach_norm=*/true}) {
    if (!(options.temperature > 0)) {
      throw config_error(at_field("cmsc.temperature"), std::to_string(options.temperature), "> 0");
    }
  }

  /// record_ids: identity (record) of each of the 2N segments; segments: 0 or 1 (position in its
  /// pair). Exactly N of each segment value are required.
  void set_targets(std::span<const std::int64_t> record_ids, std::span<const std::int64_t> segments) {
    if (record_ids.size() != segments.size()) {
      throw shape_error(at_field("cmsc.segments"), std::to_string(segments.size()) + " entries",
                        std::to_string(record_ids.size()) + " (one per record id)");
    }
    first_.clear();
    second_.clear();
    for (std::size_t i = 0; i < segments.size(); ++i) {
      if (segments[i] == 0) first_.push_back(i);
      else if (segments[i] == 1) second_.push_back(i);
      else throw data_error(at_field("cmsc.segments"), "segment " + std::to_string(segments[i]) + " at row " + std::to_string(i), "0 or 1");
    }
    if (first_.size() != second_.size() || first_.empty()) {
      throw data_error(at_field("cmsc.segments"),
                       std::to_string(first_.size()) + " first and " + std::to_string(second_.size()) + " second segments",
                       "the same positive number of each (one pair = one of each)");
    }
    const std::size_t n = first_.size();
    positive_.assign(n * n, 0);
    positives_ = 0;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        const bool same = record_ids[first_[i]] == record_ids[second_[j]];
        positive_[i * n + j] = same ? 1 : 0;
        positives_ += same ? 1 : 0;
      }
    }
    if (positives_ == 0) {
      throw data_error(at_field("cmsc.record_ids"), "no first/second segment pair shares a record id",
                       "at least one positive pair");
    }
  }

  T forward(const input_type& x) {
    loss_detail::require_finite(as_span(x), "cmsc.encoder_output");
    loss_detail::nonzero_mean_pool(x, pooled_, counts_);
    frames_ = x.shape()[1];
    return forward_pooled(pooled_);
  }

  void backward(T upstream, input_type& grad) {
    require_shape(grad.shape(), std::array<std::size_t, 3>{pooled_.shape()[0], frames_, pooled_.shape()[1]}, "cmsc.grad");
    dpooled_.resize(pooled_.shape());
    std::fill(dpooled_.begin(), dpooled_.end(), T(0));
    backward_pooled(upstream, dpooled_);
    loss_detail::nonzero_mean_pool_backward(dpooled_, counts_, grad);
  }

  /// The same loss on already pooled embeddings g: [2N, dim].
  T forward_pooled(const tensor<T, 2>& g) {
    const std::size_t rows = g.shape()[0];
    const std::size_t dim = g.shape()[1];
    if (rows != 2 * first_.size()) {
      throw shape_error(at_field("cmsc.embeddings"), std::to_string(rows) + " rows",
                        std::to_string(2 * first_.size()) + " (one per record id given to set_targets)");
    }
    const std::size_t n = first_.size();
    const T eps = static_cast<T>(options_.norm_eps);
    // [A; B]: A = segment-0 rows, B = segment-1 rows, both in batch order.
    stacked_.resize({rows, dim});
    for (std::size_t i = 0; i < n; ++i) {
      std::copy_n(g.data() + first_[i] * dim, dim, stacked_.data() + i * dim);
      std::copy_n(g.data() + second_[i] * dim, dim, stacked_.data() + (n + i) * dim);
    }
    if (options_.form == cmsc_form::nt_xent_2n) return nt_xent_.forward(stacked_);
    loss_detail::normalize_rows(stacked_.data(), rows, dim, eps, hat_, norms_);
    const const_matrix_map<T> a(hat_.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
    const const_matrix_map<T> b(hat_.data() + n * dim, static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
    logits_.resize({n, n});
    const T inv_tau = static_cast<T>(1.0 / options_.temperature);
    as_matrix(logits_).noalias() = (a * b.transpose()) * inv_tau;
    // Row softmax and column softmax of Λ.
    row_probs_.resize({n, n});
    col_probs_.resize({n, n});
    row_lse_.resize(n);
    col_lse_.resize(n);
    parallel_for(static_cast<std::int64_t>(n), [&](std::int64_t ii) {
      const auto i = static_cast<std::size_t>(ii);
      const T* l = logits_.data() + i * n;
      row_lse_[i] = loss_detail::log_sum_exp(std::span<const T>(l, n));
      T* p = row_probs_.data() + i * n;
      for (std::size_t j = 0; j < n; ++j) p[j] = std::exp(l[j] - row_lse_[i]);
    });
    parallel_for(static_cast<std::int64_t>(n), [&](std::int64_t jj) {
      const auto j = static_cast<std::size_t>(jj);
      T top = logits_(0, j);
      for (std::size_t i = 1; i < n; ++i) top = std::max(top, logits_(i, j));
      T sum = 0;
      for (std::size_t i = 0; i < n; ++i) sum += std::exp(logits_(i, j) - top);
      col_lse_[j] = top + std::log(sum);
      for (std::size_t i = 0; i < n; ++i) col_probs_(i, j) = std::exp(logits_(i, j) - col_lse_[j]);
    });
    accumulator_t<T> row_sum = 0;
    accumulator_t<T> col_sum = 0;
    count_positives(n);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        if (!positive_[i * n + j]) continue;
        const accumulator_t<T> row_term = row_lse_[i] - logits_(i, j);
        const accumulator_t<T> col_term = col_lse_[j] - logits_(i, j);
        if (options_.reduction == cmsc_reduction::all_positives) {
          row_sum += row_term;
          col_sum += col_term;
        } else {
          // Σ_i (1/r_i) Σ_j ℓ_ij / N: every row and column has at least one positive here.
          row_sum += row_term / row_pos_[i];
          col_sum += col_term / col_pos_[j];
        }
      }
    }
    const auto p = static_cast<accumulator_t<T>>(options_.reduction == cmsc_reduction::all_positives ? positives_ : n);
    return static_cast<T>(0.5 * (row_sum / p) + 0.5 * (col_sum / p));
  }

  /// dg: [2N, dim] += upstream·dL/dg.
  void backward_pooled(T upstream, tensor<T, 2>& dg) {
    const std::size_t n = first_.size();
    const std::size_t rows = 2 * n;
    const std::size_t dim = stacked_.shape()[1];
    require_shape(dg.shape(), std::array<std::size_t, 2>{rows, dim}, "cmsc.grad_embeddings");
    dstacked_.resize({rows, dim});
    std::fill(dstacked_.begin(), dstacked_.end(), T(0));
    if (options_.form == cmsc_form::nt_xent_2n) {
      nt_xent_.backward(upstream, dstacked_);
    } else {
      // all_positives: dΛ_ij = ½/|P| (r_i·softmax_row_ij - P_ij) + ½/|P| (c_j·softmax_col_ij - P_ij),
      // r_i / c_j = positives in row i / column j.
      // per_row_mean:  dΛ_ij = ½/N (softmax_row_ij - P_ij/r_i) + ½/N (softmax_col_ij - P_ij/c_j).
      dlogits_.resize({n, n});
      const bool all = options_.reduction == cmsc_reduction::all_positives;
      const T half = upstream * T(0.5) / static_cast<T>(all ? positives_ : n);
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          const T pos = positive_[i * n + j] ? T(1) : T(0);
          dlogits_(i, j) = all ? half * (row_pos_[i] * row_probs_(i, j) - pos) + half * (col_pos_[j] * col_probs_(i, j) - pos)
                               : half * (row_probs_(i, j) - pos / row_pos_[i]) + half * (col_probs_(i, j) - pos / col_pos_[j]);
        }
      }
      d_hat_.resize({rows, dim});
      const T inv_tau = static_cast<T>(1.0 / options_.temperature);
      const const_matrix_map<T> a(hat_.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
      const const_matrix_map<T> b(hat_.data() + n * dim, static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
      matrix_map<T> da(d_hat_.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
      matrix_map<T> db(d_hat_.data() + n * dim, static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
      da.noalias() = (as_matrix(dlogits_) * b) * inv_tau;
      db.noalias() = (as_matrix(dlogits_).transpose() * a) * inv_tau;
      loss_detail::normalize_rows_backward(hat_.data(), norms_.data(), d_hat_.data(), rows, dim,
                                           static_cast<T>(options_.norm_eps), dstacked_.data(), /*detached=*/true);
    }
    for (std::size_t i = 0; i < n; ++i) {
      T* ga = dg.data() + first_[i] * dim;
      T* gb = dg.data() + second_[i] * dim;
      const T* sa = dstacked_.data() + i * dim;
      const T* sb = dstacked_.data() + (n + i) * dim;
      for (std::size_t d = 0; d < dim; ++d) {
        ga[d] += sa[d];
        gb[d] += sb[d];
      }
    }
  }

 private:
  /// Positives per row (r_i) and per column (c_j) of Λ.
  void count_positives(std::size_t n) {
    row_pos_.assign(n, T(0));
    col_pos_.assign(n, T(0));
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        if (positive_[i * n + j]) {
          row_pos_[i] += T(1);
          col_pos_[j] += T(1);
        }
      }
    }
    if (options_.reduction == cmsc_reduction::all_positives) return;
    for (std::size_t i = 0; i < n; ++i) {
      if (row_pos_[i] == T(0) || col_pos_[i] == T(0)) {
        throw data_error(at_field("cmsc.record_ids"),
                         "segment " + std::to_string(i) + " of one position has no partner of the same record",
                         "every first segment's record among the second segments and vice versa");
      }
    }
  }

 public:
  /// Pooled embeddings of the last forward ([2N, dim], batch order).
  [[nodiscard]] const tensor<T, 2>& pooled() const { return pooled_; }
  /// Λ of the last cross-segment forward: [N, N].
  [[nodiscard]] const tensor<T, 2>& logits() const { return logits_; }
  [[nodiscard]] std::size_t positives() const { return positives_; }
  [[nodiscard]] const cmsc_options& options() const { return options_; }

 private:
  cmsc_options options_;
  nt_xent<T, Backend> nt_xent_;
  std::vector<std::size_t> first_, second_;
  std::vector<unsigned char> positive_;
  std::size_t positives_ = 0;
  std::size_t frames_ = 0;
  tensor<T, 2> pooled_, counts_, dpooled_, stacked_, dstacked_, hat_, d_hat_, logits_, dlogits_, row_probs_, col_probs_;
  std::vector<T> norms_, row_lse_, col_lse_, row_pos_, col_pos_;
};

}  // namespace ecgssl

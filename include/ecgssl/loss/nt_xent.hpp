#pragma once
/// \file nt_xent.hpp
/// NT-Xent (normalised temperature-scaled cross-entropy) over 2N embeddings (spec §4.5): SimCLR
/// and SimCLR(RLM), 3KG's multi-positive form (positives = same identity), and the paper's
/// Eq. 3 form of CMSC (spec §4.3).

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

/// Which rows are positives of each other when no identities are given.
enum class nt_xent_pairing {
  halves,    ///< rows i and i+N (SimCLR's cat(z1, z2))
  adjacent,  ///< rows 2i and 2i+1 (fairseq-signals' collation of two views per sample)
};

struct nt_xent_options {
  double temperature = 0.1;   ///< τ
  double norm_eps = 1e-8;     ///< ẑ = z / max(‖z‖, eps)
  /// true: the norm carries no gradient, as fairseq-signals' simclr / 3kg / CMSC criteria divide
  /// by `logits.detach().norm()`; false: F.normalize (the SimCLR paper).
  bool detach_norm = true;
  nt_xent_pairing pairing = nt_xent_pairing::halves;
};

/// z: [2N, dim] (any row count >= 2 when identities are set). s = ẑẑᵀ/τ. For every ordered
/// positive pair (i, j), i != j, the cross-entropy of j against the negatives of i (rows of
/// another identity):  ℓ_ij = -s_ij + log(exp(s_ij) + Σ_{k: id_k != id_i} exp(s_ik)).
/// L = mean over positive pairs. With exactly two rows per identity this is SimCLR's NT-Xent
/// (denominator over all k != i); with more it is the 3KG criterion (spec §4.5).
template <class T, class Backend = host>
class nt_xent {
  static_assert(loss_detail::host_only_v<Backend>, "ecgssl: this operation has no specialisation for the requested backend");

 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = tensor<T, 2>;  // [rows, dim]

  explicit nt_xent(nt_xent_options options = {}) : options_(options) {
    if (!(options.temperature > 0)) {
      throw config_error(at_field("nt_xent.temperature"), std::to_string(options.temperature), "> 0");
    }
  }

  /// Identity (patient / record / sample id) of every row; rows of equal identity are positives.
  /// Replaces the pairing rule until clear_identities().
  void set_identities(std::span<const std::int64_t> identities) { identities_.assign(identities.begin(), identities.end()); }
  void clear_identities() { identities_.clear(); }

  T forward(const input_type& z) {
    const std::size_t rows = z.shape()[0];
    const std::size_t dim = z.shape()[1];
    resolve_identities(identities_, rows, options_.pairing, ids_);
    loss_detail::require_finite(as_span(z), "nt_xent.embeddings");
    const T eps = static_cast<T>(options_.norm_eps);
    loss_detail::normalize_rows(z.data(), rows, dim, eps, z_hat_, norms_);
    dsim_.resize({rows, rows});
    as_matrix(dsim_).noalias() = as_matrix(z_hat_) * as_matrix(z_hat_).transpose();
    const T inv_tau = static_cast<T>(1.0 / options_.temperature);
    row_loss_.assign(rows, accumulator_t<T>(0));
    row_pairs_.assign(rows, 0);
    // Per row: the loss of its positive pairs and dL/ds (before the 1/P scale) in place of s.
    parallel_for(static_cast<std::int64_t>(rows), [&](std::int64_t ri) {
      const auto i = static_cast<std::size_t>(ri);
      T* s = dsim_.data() + i * rows;
      for (std::size_t k = 0; k < rows; ++k) s[k] *= inv_tau;
      T top = -std::numeric_limits<T>::infinity();
      for (std::size_t k = 0; k < rows; ++k) {
        if (k != i) top = std::max(top, s[k]);
      }
      T negatives = 0;
      for (std::size_t k = 0; k < rows; ++k) {
        if (k != i && ids_[k] != ids_[i]) negatives += std::exp(s[k] - top);
      }
      accumulator_t<T> loss = 0;
      T inverse_sum = 0;  // Σ_j 1/D_ij over the positives j of row i
      std::size_t pairs = 0;
      for (std::size_t j = 0; j < rows; ++j) {
        if (j == i || ids_[j] != ids_[i]) continue;
        const T e = std::exp(s[j] - top);
        const T d = e + negatives;
        loss += std::log(d) + top - s[j];
        inverse_sum += T(1) / d;
        ++pairs;
      }
      // Derivatives: negative k: exp(s_ik)·Σ_j 1/D_ij; positive j: exp(s_ij)/D_ij - 1.
      for (std::size_t k = 0; k < rows; ++k) {
        if (k == i) {
          s[k] = T(0);
          continue;
        }
        const T e = std::exp(s[k] - top);
        s[k] = ids_[k] != ids_[i] ? e * inverse_sum : e / (e + negatives) - T(1);
      }
      row_loss_[i] = loss;
      row_pairs_[i] = pairs;
    });
    accumulator_t<T> total = 0;
    pairs_ = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      total += row_loss_[i];
      pairs_ += row_pairs_[i];
    }
    require_positive_pairs(pairs_);
    return static_cast<T>(total / static_cast<accumulator_t<T>>(pairs_));
  }

  /// grad: [rows, dim] += upstream·dL/dz.
  void backward(T upstream, input_type& grad) {
    const std::size_t rows = z_hat_.shape()[0];
    const std::size_t dim = z_hat_.shape()[1];
    require_shape(grad.shape(), z_hat_.shape(), "nt_xent.grad");
    // d ẑ = (ds + dsᵀ) ẑ / τ with ds = dsim / P.
    d_hat_.resize({rows, dim});
    auto ds = as_matrix(dsim_);
    const T scale = upstream / (static_cast<T>(pairs_) * static_cast<T>(options_.temperature));
    as_matrix(d_hat_).noalias() = (ds + ds.transpose()) * as_matrix(z_hat_) * scale;
    loss_detail::normalize_rows_backward(z_hat_.data(), norms_.data(), d_hat_.data(), rows, dim,
                                         static_cast<T>(options_.norm_eps), grad.data(), options_.detach_norm);
  }

  /// The identity of each of `rows` rows: `identities` when given (one per row), else the
  /// pairing rule (rows must then be an even number >= 2). Shared by every backend.
  static void resolve_identities(std::span<const std::int64_t> identities, std::size_t rows, nt_xent_pairing pairing,
                                 std::vector<std::int64_t>& ids) {
    if (!identities.empty()) {
      if (identities.size() != rows) {
        throw shape_error(at_field("nt_xent.embeddings"), std::to_string(rows) + " rows",
                          std::to_string(identities.size()) + " (one per identity given)");
      }
      ids.assign(identities.begin(), identities.end());
      return;
    }
    if (rows < 2 || rows % 2 != 0) {
      throw shape_error(at_field("nt_xent.embeddings"), "got " + std::to_string(rows) + " rows",
                        "an even number >= 2 of rows (two views per sample)");
    }
    ids.resize(rows);
    for (std::size_t i = 0; i < rows; ++i) {
      ids[i] = static_cast<std::int64_t>(pairing == nt_xent_pairing::halves ? i % (rows / 2) : i / 2);
    }
  }

  /// Throws data_error when the rows have no positive pair (`pairs` ordered pairs). Shared by
  /// every backend.
  static void require_positive_pairs(std::size_t pairs) {
    if (pairs == 0) {
      throw data_error(at_field("nt_xent.identities"), "no two rows share an identity", "at least one positive pair");
    }
  }

  /// Number of ordered positive pairs of the last forward (fairseq's sample_size).
  [[nodiscard]] std::size_t positive_pairs() const { return pairs_; }
  [[nodiscard]] const nt_xent_options& options() const { return options_; }

 private:
  nt_xent_options options_;
  std::vector<std::int64_t> identities_, ids_;
  tensor<T, 2> z_hat_, dsim_, d_hat_;
  std::vector<T> norms_;
  std::vector<accumulator_t<T>> row_loss_;
  std::vector<std::size_t> row_pairs_;
  std::size_t pairs_ = 0;
};

}  // namespace ecgssl

#pragma once
/// \file identification.hpp
/// Patient-identification top-1 accuracy (spec §6.3): gallery and probe embeddings are
/// L2-normalised; each probe is assigned the identity of the gallery item with the largest
/// cosine similarity (the first such item on ties, like argmax); the accuracy is the fraction of
/// probes whose assigned identity equals their own.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace ecgssl::metrics {

struct identification_result {
  double top1 = 0;                      ///< fraction of probes matched to their own identity
  std::vector<std::size_t> best_match;  ///< per probe, the chosen gallery row
};

namespace detail {

/// Rows of `x` scaled to unit length, in double; data_error for a zero or non-finite row.
template <class T>
row_matrix<double> normalised_rows(const tensor<T, 2>& x, const char* name) {
  row_matrix<double> out = as_matrix(x).template cast<double>();
  for (Eigen::Index i = 0; i < out.rows(); ++i) {
    const double norm = out.row(i).norm();
    if (!(norm > 0) || !std::isfinite(norm)) {
      throw data_error(at_field(std::string(name) + "[" + std::to_string(i) + "]"),
                       "embedding has norm " + std::to_string(norm), "a finite, non-zero embedding");
    }
    out.row(i) /= norm;
  }
  return out;
}

}  // namespace detail

/// gallery: [gallery_size, dim], probes: [probe_size, dim]; ids name each row's identity.
template <class T>
[[nodiscard]] identification_result identification_top1(const tensor<T, 2>& gallery,
                                                        std::span<const std::int64_t> gallery_ids,
                                                        const tensor<T, 2>& probes,
                                                        std::span<const std::int64_t> probe_ids) {
  if (gallery.shape()[0] == 0 || probes.shape()[0] == 0) {
    throw data_error(at_field(gallery.shape()[0] == 0 ? "gallery" : "probes"), "no embeddings", "at least one row");
  }
  if (gallery.shape()[1] != probes.shape()[1]) {
    throw shape_error(at_field("probes"), "shape " + shape_string(probes.shape()),
                      "[probes, " + std::to_string(gallery.shape()[1]) + "] (the gallery's dimension)");
  }
  if (gallery_ids.size() != gallery.shape()[0]) {
    throw shape_error(at_field("gallery_ids"), std::to_string(gallery_ids.size()) + " ids",
                      std::to_string(gallery.shape()[0]) + " (one per gallery row)");
  }
  if (probe_ids.size() != probes.shape()[0]) {
    throw shape_error(at_field("probe_ids"), std::to_string(probe_ids.size()) + " ids",
                      std::to_string(probes.shape()[0]) + " (one per probe row)");
  }
  const row_matrix<double> g = detail::normalised_rows(gallery, "gallery");
  const row_matrix<double> p = detail::normalised_rows(probes, "probes");

  identification_result out;
  out.best_match.resize(probe_ids.size());
  std::size_t correct = 0;
  // Probes in blocks so the similarity matrix stays small for large galleries.
  constexpr Eigen::Index block = 256;
  row_matrix<double> similarity;
  for (Eigen::Index start = 0; start < p.rows(); start += block) {
    const Eigen::Index rows = std::min(block, p.rows() - start);
    similarity.noalias() = p.middleRows(start, rows) * g.transpose();  // [rows, gallery]
    for (Eigen::Index r = 0; r < rows; ++r) {
      Eigen::Index best = 0;
      for (Eigen::Index c = 1; c < similarity.cols(); ++c) {
        if (similarity(r, c) > similarity(r, best)) best = c;
      }
      const auto probe = static_cast<std::size_t>(start + r);
      out.best_match[probe] = static_cast<std::size_t>(best);
      correct += gallery_ids[static_cast<std::size_t>(best)] == probe_ids[probe] ? 1 : 0;
    }
  }
  out.top1 = static_cast<double>(correct) / static_cast<double>(probe_ids.size());
  return out;
}

}  // namespace ecgssl::metrics

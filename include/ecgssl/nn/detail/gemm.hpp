#pragma once
/// \file gemm.hpp
/// Matrix products split into one panel per OpenMP thread, each panel one serial Eigen GEMM.
///
/// Why not Eigen's own threaded GEMM: its threads share packed panels and spin-wait for each
/// other between depth blocks; on a machine whose cores are also busy with other work a stalled
/// thread makes the others spin, and profiles of the encoder showed about a quarter of all CPU
/// time in those waits. Independent panels (each thread packs its own operands) never wait.
/// Determinism: a panel is one serial GEMM whose depth blocking depends only on the depth, and
/// the panel boundaries depend only on the shape and the thread count, so results are
/// bit-identical for a given thread count (the rule of core/threading.hpp).

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>

#include "../../core/threading.hpp"

namespace ecgssl::nn::detail {

/// Panel rows are a multiple of this (a multiple of Eigen's register block heights), so a
/// panel never cuts through a micro-kernel block.
inline constexpr Eigen::Index gemm_panel_multiple = 48;

/// Number of panels a dimension of `extent` is split into: one per thread, none thinner than
/// gemm_panel_multiple.
inline Eigen::Index gemm_panels(Eigen::Index extent) {
  const auto threads = static_cast<Eigen::Index>(std::max(1, max_threads()));
  return std::clamp<Eigen::Index>(extent / gemm_panel_multiple, 1, threads);
}

/// dst (+)= lhs * rhs, with dst split along its longer side into gemm_panels() panels computed
/// in parallel, each by a serial Eigen GEMM. `accumulate` false assigns. Operands are Eigen
/// expressions with direct access (Map, Block, Transpose of those); dst must not alias them.
template <class Dst, class Lhs, class Rhs>
void parallel_gemm(Dst&& dst, const Lhs& lhs, const Rhs& rhs, bool accumulate,
                   typename std::decay_t<Dst>::Scalar alpha = 1) {
  const Eigen::Index m = dst.rows();
  const Eigen::Index n = dst.cols();
  if (m == 0 || n == 0) return;
  if (lhs.cols() == 0) {
    if (!accumulate) dst.setZero();
    return;
  }
  const bool by_rows = m >= n;
  const Eigen::Index extent = by_rows ? m : n;
  const Eigen::Index panels = gemm_panels(extent);
  if (panels == 1) {
    if (accumulate) {
      dst.noalias() += alpha * (lhs * rhs);
    } else {
      dst.noalias() = alpha * (lhs * rhs);
    }
    return;
  }
  // Panel p covers [p * size, min(extent, (p + 1) * size)), size rounded to the multiple.
  Eigen::Index size = (extent + panels - 1) / panels;
  size = (size + gemm_panel_multiple - 1) / gemm_panel_multiple * gemm_panel_multiple;
  const Eigen::Index count = (extent + size - 1) / size;
  parallel_for(static_cast<std::int64_t>(count), [&](std::int64_t p) {
    const Eigen::Index begin = static_cast<Eigen::Index>(p) * size;
    const Eigen::Index len = std::min(size, extent - begin);
    // Inside the parallel region Eigen runs each product on the calling thread only.
    if (by_rows) {
      auto d = dst.middleRows(begin, len);
      if (accumulate) {
        d.noalias() += alpha * (lhs.middleRows(begin, len) * rhs);
      } else {
        d.noalias() = alpha * (lhs.middleRows(begin, len) * rhs);
      }
    } else {
      auto d = dst.middleCols(begin, len);
      if (accumulate) {
        d.noalias() += alpha * (lhs * rhs.middleCols(begin, len));
      } else {
        d.noalias() = alpha * (lhs * rhs.middleCols(begin, len));
      }
    }
  });
}

}  // namespace ecgssl::nn::detail

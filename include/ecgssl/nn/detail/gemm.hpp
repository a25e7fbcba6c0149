#pragma once
/// \file gemm.hpp
/// Matrix products split into one panel per OpenMP thread, each panel one serial GEMM
/// (serial_gemm: Eigen, or OpenBLAS in a build with ECGSSL_USE_OPENBLAS).
///
/// Why not Eigen's own threaded GEMM: its threads share packed panels and spin-wait for each
/// other between depth blocks; on a machine whose cores are also busy with other work a stalled
/// thread makes the others spin, and profiles of the encoder showed about a quarter of all CPU
/// time in those waits. Independent panels (each thread packs its own operands) never wait.
/// Determinism: a panel is one serial GEMM whose depth blocking depends only on the depth, and
/// the panel boundaries depend only on the shape and the thread count, so results are
/// bit-identical for a given thread count (the rule of core/threading.hpp).
///
/// Mixed precision (core/precision.hpp): when the calling thread's product precision is bf16,
/// float products round both operands to bfloat16 and accumulate in float32, through oneDNN's
/// bf16 kernels where the CPU has them (nn/detail/onednn_matmul.hpp), otherwise as a float32
/// GEMM of the rounded operands (the same exact products, summed in another order). Double
/// products (the gradient checks) are never rounded. Bit-identical repeats then also assume the
/// same CPU instruction set, since oneDNN picks its kernel at run time.

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(ECGSSL_USE_OPENBLAS)
#include <cblas.h>

#include <mutex>
#endif

#include "../../core/precision.hpp"
#include "../../core/threading.hpp"
#include "../../core/detail/bf16_rounding.hpp"
#include "../../core/detail/frozen_operands.hpp"
#include "onednn_matmul.hpp"

namespace ecgssl::nn::detail {

#if defined(ECGSSL_USE_OPENBLAS)
/// True when `x` can be handed to BLAS as it is: unit inner stride and a leading dimension of
/// at least its inner extent. pos_conv's overlapping-row windows (leading dimension smaller than
/// a row) are valid Eigen maps but not valid BLAS operands, so they stay with Eigen.
template <class X>
bool blas_compatible(const X& x) {
  const Eigen::Index inner = X::IsRowMajor ? x.cols() : x.rows();
  return x.innerStride() == 1 && x.outerStride() >= std::max<Eigen::Index>(1, inner);
}

/// OpenBLAS runs every product on the calling thread: the parallelism is ours (one panel per
/// thread), and a threaded OpenBLAS inside those threads would oversubscribe the cores.
inline void make_openblas_serial() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}
#endif

/// dst (+)= alpha * lhs * rhs in the operands' own precision (float32 or double) on the calling
/// thread only. Built with ECGSSL_USE_OPENBLAS
/// (CMake option ECGSSL_USE_OPENBLAS), float and double products whose operands BLAS accepts run
/// through OpenBLAS's serial ?gemm (on AVX-512 cores about 25 % faster than Eigen 3.4's kernel,
/// whose register block is 3 packets x 4 columns); everything else through Eigen. Either way the
/// summation order depends only on the shapes, so repeats are bit-identical.
template <class Dst, class Lhs, class Rhs>
void serial_gemm_exact_operands(Dst&& dst, const Lhs& lhs, const Rhs& rhs, bool accumulate,
                                typename std::decay_t<Dst>::Scalar alpha = 1) {
#if defined(ECGSSL_USE_OPENBLAS)
  using Scalar = typename std::decay_t<Dst>::Scalar;
  using DstX = std::decay_t<Dst>;
  if constexpr ((std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>) &&
                bool(Eigen::internal::traits<DstX>::Flags & Eigen::DirectAccessBit) &&
                bool(Eigen::internal::traits<Lhs>::Flags & Eigen::DirectAccessBit) &&
                bool(Eigen::internal::traits<Rhs>::Flags & Eigen::DirectAccessBit)) {
    if (blas_compatible(dst) && blas_compatible(lhs) && blas_compatible(rhs) && lhs.cols() > 0) {
      make_openblas_serial();
      const auto layout = DstX::IsRowMajor ? CblasRowMajor : CblasColMajor;
      const auto lhs_op = bool(Lhs::IsRowMajor) == bool(DstX::IsRowMajor) ? CblasNoTrans : CblasTrans;
      const auto rhs_op = bool(Rhs::IsRowMajor) == bool(DstX::IsRowMajor) ? CblasNoTrans : CblasTrans;
      const auto m = static_cast<blasint>(dst.rows());
      const auto n = static_cast<blasint>(dst.cols());
      const auto k = static_cast<blasint>(lhs.cols());
      const auto lda = static_cast<blasint>(lhs.outerStride());
      const auto ldb = static_cast<blasint>(rhs.outerStride());
      const auto ldc = static_cast<blasint>(dst.outerStride());
      const Scalar beta = accumulate ? Scalar(1) : Scalar(0);
      if constexpr (std::is_same_v<Scalar, float>) {
        cblas_sgemm(layout, lhs_op, rhs_op, m, n, k, alpha, lhs.data(), lda, rhs.data(), ldb, beta, dst.data(), ldc);
      } else {
        cblas_dgemm(layout, lhs_op, rhs_op, m, n, k, alpha, lhs.data(), lda, rhs.data(), ldb, beta, dst.data(), ldc);
      }
      return;
    }
  }
#endif
  if (accumulate) {
    dst.noalias() += alpha * (lhs * rhs);
  } else {
    dst.noalias() = alpha * (lhs * rhs);
  }
}


/// Per-thread scratch of the bf16 products: the rounded operands (bf16 bits for oneDNN, floats
/// for the float32 GEMM of rounded operands). Grown to the largest product
/// a thread has seen and kept, so steady-state training allocates nothing here.
struct bf16_product_scratch {
  std::vector<std::uint16_t> lhs_bits, rhs_bits;
  std::vector<float> lhs_rounded, rhs_rounded;
  static bf16_product_scratch& local() {
    thread_local bf16_product_scratch scratch;
    return scratch;
  }
};

template <class Buffer>
auto* grown(Buffer& buffer, Eigen::Index size) {
  if (buffer.size() < static_cast<std::size_t>(size)) buffer.resize(static_cast<std::size_t>(size));
  return buffer.data();
}

/// Whether `x` is read in place, a contiguous run of floats per row (row-major) or per column.
template <class X>
constexpr bool contiguous_lines() {
  return bool(Eigen::internal::traits<X>::Flags & Eigen::DirectAccessBit);
}

/// Element strides of the dense copy rounded_operand() makes of `x`: its own storage order where
/// x's lines are contiguous (the copy then reads x line by line), row-major otherwise.
template <class X>
std::pair<std::int64_t, std::int64_t> rounded_strides(const X& x) {
  if constexpr (contiguous_lines<X>()) {
    if (x.innerStride() == 1 && !bool(X::IsRowMajor)) return {1, static_cast<std::int64_t>(x.rows())};
  }
  return {static_cast<std::int64_t>(x.cols()), 1};
}

/// `x` rounded into `buffer` with the strides rounded_strides(x) gives, by the whole team where
/// called outside a parallel region (the shared operand of a panelled product is rounded once,
/// not once per panel).
template <class Out, class X, class Round>
Out* rounded_operand(const X& x, std::vector<Out>& buffer, Round round_line) {
  const Eigen::Index rows = x.rows(), cols = x.cols();
  Out* out = grown(buffer, rows * cols);
  if constexpr (contiguous_lines<X>()) {
    if (x.innerStride() == 1) {
      constexpr bool row_major = bool(X::IsRowMajor);
      const Eigen::Index outer = row_major ? rows : cols, inner = row_major ? cols : rows;
      const float* base = x.data();
      const Eigen::Index stride = x.outerStride();
      // Chunks of about 64 Ki elements: enough work per chunk to be worth a thread.
      const Eigen::Index per_chunk = std::max<Eigen::Index>(1, (Eigen::Index{1} << 16) / std::max<Eigen::Index>(1, inner));
      const Eigen::Index chunks = (outer + per_chunk - 1) / per_chunk;
      parallel_for(static_cast<std::int64_t>(chunks), [&](std::int64_t c) {
        const Eigen::Index first = static_cast<Eigen::Index>(c) * per_chunk;
        const Eigen::Index last = std::min(outer, first + per_chunk);
        for (Eigen::Index o = first; o < last; ++o) round_line(base + o * stride, out + o * inner, inner);
      });
      return out;
    }
  }
  using Dense = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Dense dense = x;
  for (Eigen::Index r = 0; r < rows; ++r) round_line(dense.data() + r * cols, out + r * cols, cols);
  return out;
}

/// `x`'s bf16 bits laid out as rounded_operand() lays them: the kept copy where x lies in frozen
/// memory (core/detail/frozen_operands.hpp: weights during inference), else rounded into `buffer`.
template <class X>
const std::uint16_t* rounded_bits(const X& x, std::vector<std::uint16_t>& buffer) {
  if constexpr (contiguous_lines<X>()) {
    if (x.innerStride() == 1) {
      const bool row_major = bool(X::IsRowMajor);
      const std::int64_t lines = row_major ? x.rows() : x.cols(), length = row_major ? x.cols() : x.rows();
      if (const std::uint16_t* kept = ecgssl::detail::frozen_operands::find(x.data(), lines, length, x.outerStride())) return kept;
    }
  }
  return rounded_operand(x, buffer, ecgssl::detail::round_to_bf16_bits);
}

/// dst (+)= alpha * round_bf16(lhs) * round_bf16(rhs) as a float32 GEMM of the rounded operands
/// (the same exact products oneDNN's bf16 kernels sum, in another order): for CPUs where oneDNN
/// has no bf16 kernel, and builds without oneDNN.
template <class Dst, class Lhs, class Rhs>
void serial_gemm_rounded_operands(Dst&& dst, const Lhs& lhs, const Rhs& rhs, bool accumulate, float alpha) {
  auto& scratch = bf16_product_scratch::local();
  const auto as_rounded = [](const auto& x, std::vector<float>& buffer) {
    const auto [row, col] = rounded_strides(x);
    float* data = rounded_operand(x, buffer, ecgssl::detail::round_to_bf16_floats);
    using Strided = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0,
                               Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
    return Strided(data, x.rows(), x.cols(), Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(row, col));
  };
  const auto a = as_rounded(lhs, scratch.lhs_rounded);
  const auto b = as_rounded(rhs, scratch.rhs_rounded);
  if (a.innerStride() == 1 && b.innerStride() == 1) {
    serial_gemm_exact_operands(dst, a, b, accumulate, alpha);
  } else {
    // A column-major copy seen through a row-major map with strides (1, rows): its transpose
    // is a plain column-major matrix, which BLAS and Eigen take as it is.
    using ColMajor = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>>;
    const auto plain = [](const auto& x) { return ColMajor(x.data(), x.rows(), x.cols()); };
    if (a.innerStride() != 1 && b.innerStride() != 1) {
      serial_gemm_exact_operands(dst, plain(a), plain(b), accumulate, alpha);
    } else if (a.innerStride() != 1) {
      serial_gemm_exact_operands(dst, plain(a), b, accumulate, alpha);
    } else {
      serial_gemm_exact_operands(dst, a, plain(b), accumulate, alpha);
    }
  }
}

/// Panel rows are a multiple of this (a multiple of Eigen's register block heights), so a
/// panel never cuts through a micro-kernel block.
inline constexpr Eigen::Index gemm_panel_multiple = 48;

/// Number of panels a dimension of `extent` is split into: one per thread, none thinner than
/// gemm_panel_multiple.
inline Eigen::Index gemm_panels(Eigen::Index extent) {
  const auto threads = static_cast<Eigen::Index>(std::max(1, max_threads()));
  return std::clamp<Eigen::Index>(extent / gemm_panel_multiple, 1, threads);
}

/// Rows (or columns) per panel: the extent split evenly, rounded up to the panel multiple.
inline Eigen::Index gemm_panel_size(Eigen::Index extent, Eigen::Index panels) {
  const Eigen::Index size = (extent + panels - 1) / panels;
  return (size + gemm_panel_multiple - 1) / gemm_panel_multiple * gemm_panel_multiple;
}

#if defined(ECGSSL_WITH_ONEDNN)
/// dst (+)= alpha * round_bf16(lhs) * round_bf16(rhs) through oneDNN's bf16 kernels, oneDNN
/// writing dst where it lies (the sum post-op accumulates). Each operand is rounded once, in its
/// own storage order, and oneDNN reads it through its strides. With `panelled` the product is
/// split as parallel_gemm splits it, one oneDNN call per panel and thread. Returns false, having
/// written nothing, where oneDNN has no kernel for a panel's layout (its reference loop only)
/// or the operands do not suit (a dst without contiguous rows, alpha with accumulation).
template <class Dst, class Lhs, class Rhs>
bool onednn_bf16_gemm(Dst&& dst, const Lhs& lhs, const Rhs& rhs, bool accumulate, float alpha, bool panelled) {
  using DstX = std::decay_t<Dst>;
  if constexpr (!contiguous_lines<DstX>()) {
    return false;
  } else if constexpr (!bool(DstX::IsRowMajor)) {
    // A column-major result is the row-major transpose of rhs^T * lhs^T.
    return onednn_bf16_gemm(dst.transpose(), rhs.transpose(), lhs.transpose(), accumulate, alpha, panelled);
  } else {
    if (dst.innerStride() != 1 || (accumulate && alpha != 1.0f)) return false;
    const std::int64_t m = dst.rows(), n = dst.cols(), k = lhs.cols();
    const auto [a_row, a_col] = rounded_strides(lhs);
    const auto [b_row, b_col] = rounded_strides(rhs);
    const std::int64_t ldc = dst.outerStride();
    const bool by_rows = m >= n;
    const Eigen::Index extent = by_rows ? m : n;
    const Eigen::Index panels = panelled ? gemm_panels(extent) : 1;
    const Eigen::Index size = panels == 1 ? extent : gemm_panel_size(extent, panels);
    const Eigen::Index count = (extent + size - 1) / size;
    const auto layout_of = [&](Eigen::Index length) {
      return product_layout{by_rows ? length : m, by_rows ? n : length, k, a_row, a_col, b_row, b_col, ldc, accumulate};
    };
    auto& onednn = onednn_matmul::local();
    if (!onednn.has_kernel(layout_of(size)) || !onednn.has_kernel(layout_of(extent - (count - 1) * size))) return false;
    auto& scratch = bf16_product_scratch::local();
    const std::uint16_t* a = rounded_bits(lhs, scratch.lhs_bits);
    const std::uint16_t* b = rounded_bits(rhs, scratch.rhs_bits);
    float* c = dst.data();
    const auto panel = [&](std::int64_t p) {
      const Eigen::Index first = static_cast<Eigen::Index>(p) * size;
      const Eigen::Index length = std::min(size, extent - first);
      const auto layout = layout_of(length);
      const std::uint16_t* a_panel = by_rows ? a + first * a_row : a;
      const std::uint16_t* b_panel = by_rows ? b : b + first * b_col;
      float* c_panel = by_rows ? c + first * ldc : c + first;
      if (!onednn_matmul::local().run(layout, a_panel, b_panel, c_panel)) {
        // oneDNN refused at run time what it accepted at creation: compute this panel the
        // portable way (same exact products, another summation order).
        if (by_rows) {
          serial_gemm_rounded_operands(dst.middleRows(first, length), lhs.middleRows(first, length), rhs, accumulate, alpha);
        } else {
          serial_gemm_rounded_operands(dst.middleCols(first, length), lhs, rhs.middleCols(first, length), accumulate, alpha);
        }
        return;
      }
      if (alpha != 1.0f) {
        if (by_rows) {
          dst.middleRows(first, length) *= alpha;
        } else {
          dst.middleCols(first, length) *= alpha;
        }
      }
    };
    if (count == 1) {
      panel(0);
    } else {
      parallel_for(static_cast<std::int64_t>(count), panel);
    }
    return true;
  }
}
#endif

/// dst (+)= alpha * lhs * rhs on the calling thread only, in the thread's product precision
/// (float operands rounded to bf16 in bf16 mode; see the file comment).
template <class Dst, class Lhs, class Rhs>
void serial_gemm(Dst&& dst, const Lhs& lhs, const Rhs& rhs, bool accumulate,
                 typename std::decay_t<Dst>::Scalar alpha = 1) {
  using Scalar = typename std::decay_t<Dst>::Scalar;
  if constexpr (std::is_same_v<Scalar, float>) {
    if (product_precision() == precision::bf16 && lhs.cols() > 0 && dst.size() > 0) {
#if defined(ECGSSL_WITH_ONEDNN)
      if (onednn_bf16_gemm(dst, lhs, rhs, accumulate, alpha, false)) return;
#endif
      serial_gemm_rounded_operands(std::forward<Dst>(dst), lhs, rhs, accumulate, alpha);
      return;
    }
  }
  serial_gemm_exact_operands(std::forward<Dst>(dst), lhs, rhs, accumulate, alpha);
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
#if defined(ECGSSL_WITH_ONEDNN)
  if constexpr (std::is_same_v<typename std::decay_t<Dst>::Scalar, float>) {
    if (product_precision() == precision::bf16 && onednn_bf16_gemm(dst, lhs, rhs, accumulate, alpha, true)) return;
  }
#endif
  const bool by_rows = m >= n;
  const Eigen::Index extent = by_rows ? m : n;
  const Eigen::Index panels = gemm_panels(extent);
  if (panels == 1) {
    serial_gemm(dst, lhs, rhs, accumulate, alpha);
    return;
  }
  // Panel p covers [p * size, min(extent, (p + 1) * size)), size rounded to the multiple.
  const Eigen::Index size = gemm_panel_size(extent, panels);
  const Eigen::Index count = (extent + size - 1) / size;
  parallel_for(static_cast<std::int64_t>(count), [&](std::int64_t p) {
    const Eigen::Index begin = static_cast<Eigen::Index>(p) * size;
    const Eigen::Index len = std::min(size, extent - begin);
    // Inside the parallel region each product runs on the calling thread only.
    if (by_rows) {
      serial_gemm(dst.middleRows(begin, len), lhs.middleRows(begin, len), rhs, accumulate, alpha);
    } else {
      serial_gemm(dst.middleCols(begin, len), lhs, rhs.middleCols(begin, len), accumulate, alpha);
    }
  });
}

}  // namespace ecgssl::nn::detail

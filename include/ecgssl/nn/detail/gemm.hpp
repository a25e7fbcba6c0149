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
#include <vector>

#if defined(ECGSSL_USE_OPENBLAS)
#include <cblas.h>

#include <mutex>
#endif

#include "../../core/precision.hpp"
#include "../../core/threading.hpp"
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


/// Per-thread scratch of the bf16 products: the rounded operands and oneDNN's float32 result.
/// Grown to the largest product a thread has seen and kept, so steady-state training allocates
/// nothing here.
struct bf16_product_scratch {
  std::vector<std::uint16_t> lhs_bits, rhs_bits;
  std::vector<float> lhs_rounded, rhs_rounded, product;
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

/// `x` with every value passed through `round` (float -> float or bf16 bits), stored densely in
/// x's own storage order, or row-major when `force_row_major`. Operands with a unit inner stride
/// (nearly all) are copied row by row in plain loops the compiler can vectorise.
template <bool force_row_major, class Out, class X, class Round>
auto rounded_copy(const X& x, std::vector<Out>& buffer, Round round) {
  constexpr bool row_major = force_row_major || bool(X::IsRowMajor);
  using Matrix = Eigen::Matrix<Out, Eigen::Dynamic, Eigen::Dynamic, row_major ? Eigen::RowMajor : Eigen::ColMajor>;
  const Eigen::Index rows = x.rows(), cols = x.cols();
  Eigen::Map<Matrix> out(grown(buffer, rows * cols), rows, cols);
  if constexpr (bool(Eigen::internal::traits<X>::Flags & Eigen::DirectAccessBit) && row_major == bool(X::IsRowMajor)) {
    if (x.innerStride() == 1) {
      const Eigen::Index outer = row_major ? rows : cols, inner = row_major ? cols : rows;
      for (Eigen::Index o = 0; o < outer; ++o) {
        const float* from = x.data() + o * x.outerStride();
        Out* to = out.data() + o * inner;
        for (Eigen::Index i = 0; i < inner; ++i) to[i] = round(from[i]);
      }
      return out;
    }
  }
  out = x.unaryExpr(round);
  return out;
}

/// dst (+)= alpha * round_bf16(lhs) * round_bf16(rhs), accumulated in float32.
template <class Dst, class Lhs, class Rhs>
void serial_gemm_bf16_operands(Dst&& dst, const Lhs& lhs, const Rhs& rhs, bool accumulate, float alpha) {
  const Eigen::Index m = dst.rows(), n = dst.cols(), k = lhs.cols();
  auto& scratch = bf16_product_scratch::local();
#if defined(ECGSSL_WITH_ONEDNN)
  auto& onednn = onednn_matmul::local();
  if (onednn.has_kernel(m, n, k)) {
    const auto to_bits = [](float x) { return bf16_bits(x); };
    const auto a = rounded_copy<true>(lhs, scratch.lhs_bits, to_bits);
    const auto b = rounded_copy<true>(rhs, scratch.rhs_bits, to_bits);
    Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> c(grown(scratch.product, m * n), m, n);
    if (onednn.run(m, n, k, a.data(), b.data(), c.data())) {
      if (accumulate) {
        dst += alpha * c;
      } else {
        dst = alpha * c;
      }
      return;
    }
  }
#endif
  const auto to_bf16 = [](float x) { return round_to_bf16(x); };
  const auto a = rounded_copy<false>(lhs, scratch.lhs_rounded, to_bf16);
  const auto b = rounded_copy<false>(rhs, scratch.rhs_rounded, to_bf16);
  serial_gemm_exact_operands(dst, a, b, accumulate, alpha);
}

/// dst (+)= alpha * lhs * rhs on the calling thread only, in the thread's product precision
/// (float operands rounded to bf16 in bf16 mode; see the file comment).
template <class Dst, class Lhs, class Rhs>
void serial_gemm(Dst&& dst, const Lhs& lhs, const Rhs& rhs, bool accumulate,
                 typename std::decay_t<Dst>::Scalar alpha = 1) {
  using Scalar = typename std::decay_t<Dst>::Scalar;
  if constexpr (std::is_same_v<Scalar, float>) {
    if (product_precision() == precision::bf16 && lhs.cols() > 0 && dst.size() > 0) {
      serial_gemm_bf16_operands(std::forward<Dst>(dst), lhs, rhs, accumulate, alpha);
      return;
    }
  }
  serial_gemm_exact_operands(std::forward<Dst>(dst), lhs, rhs, accumulate, alpha);
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
    serial_gemm(dst, lhs, rhs, accumulate, alpha);
    return;
  }
  // Panel p covers [p * size, min(extent, (p + 1) * size)), size rounded to the multiple.
  Eigen::Index size = (extent + panels - 1) / panels;
  size = (size + gemm_panel_multiple - 1) / gemm_panel_multiple * gemm_panel_multiple;
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

#pragma once
/// \file linear_kernels.hpp
/// Host math of nn::linear (spec §3.4, §3.7): row-major GEMMs through Eigen over raw pointers,
/// so a CUDA specialisation of the same op (cuBLAS) can slot in without touching the layer. The
/// products run as per-thread panels (detail/gemm.hpp), not on Eigen's spin-waiting threads.

#include <Eigen/Core>
#include <cstddef>

#include "../../core/backend.hpp"
#include "../../core/ordered_sum.hpp"
#include "../../core/tensor.hpp"
#include "gemm.hpp"

namespace ecgssl::nn::detail {
/// Operation tag: y[rows, out] = x[rows, in] * w[out, in]^T + b[out].
struct linear_op {};
}  // namespace ecgssl::nn::detail

namespace ecgssl {

template <>
struct implementation<nn::detail::linear_op, host> {
  /// y = x w^T (+ b). `b` may be null.
  template <class T>
  static void forward(const T* x, const T* w, const T* b, T* y, Eigen::Index rows, Eigen::Index in,
                      Eigen::Index out) {
    const auto xm = as_matrix(x, rows, in);
    const auto wm = as_matrix(w, out, in);
    auto ym = as_matrix(y, rows, out);
    nn::detail::parallel_gemm(ym, xm, wm.transpose(), false);
    if (b != nullptr) ym.rowwise() += const_vector_map<T>(b, out).transpose();
  }

  /// dx += dy w; dw += dy^T x; db += column sums of dy. A null dx skips the input gradient.
  template <class T>
  static void backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, Eigen::Index rows,
                       Eigen::Index in, Eigen::Index out) {
    const auto xm = as_matrix(x, rows, in);
    const auto wm = as_matrix(w, out, in);
    const auto dym = as_matrix(dy, rows, out);
    if (dx != nullptr) nn::detail::parallel_gemm(as_matrix(dx, rows, in), dym, wm, true);
    nn::detail::parallel_gemm(as_matrix(dw, out, in), dym.transpose(), xm, true);
    if (db != nullptr) add_column_sums(db, dy, static_cast<std::size_t>(rows), static_cast<std::size_t>(out));
  }
};

}  // namespace ecgssl

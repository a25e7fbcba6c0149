#pragma once
/// \file tensor.hpp
/// Tensor aliases over xtensor storage and zero-copy Eigen views of the same memory.
/// Convention: row-major (C order) everywhere, shapes written in comments as
/// `// x: [batch, leads, samples]`.

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "detail/xtensor_include.hpp"
#include "error.hpp"

namespace ecgssl {

/// Owning N-d array with a rank fixed at compile time.
template <class T, std::size_t N>
using tensor = xt::xtensor<T, N, xt::layout_type::row_major>;

/// Owning N-d array with a rank chosen at run time (checkpoints, generic I/O).
template <class T>
using dynamic_tensor = xt::xarray<T, xt::layout_type::row_major>;

/// Row-major dynamic Eigen matrix types used for GEMM-shaped work.
template <class T>
using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using matrix_map = Eigen::Map<row_matrix<T>>;
template <class T>
using const_matrix_map = Eigen::Map<const row_matrix<T>>;
template <class T>
using vector_map = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
template <class T>
using const_vector_map = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

/// Views `rows * cols` contiguous elements starting at `data` as a row-major matrix.
template <class T>
[[nodiscard]] matrix_map<T> as_matrix(T* data, Eigen::Index rows, Eigen::Index cols) {
  return matrix_map<T>(data, rows, cols);
}
template <class T>
[[nodiscard]] const_matrix_map<T> as_matrix(const T* data, Eigen::Index rows, Eigen::Index cols) {
  return const_matrix_map<T>(data, rows, cols);
}

/// Views a rank-2 tensor as a row-major Eigen matrix without copying.
template <class T>
[[nodiscard]] matrix_map<T> as_matrix(tensor<T, 2>& t) {
  return matrix_map<T>(t.data(), static_cast<Eigen::Index>(t.shape()[0]),
                       static_cast<Eigen::Index>(t.shape()[1]));
}
template <class T>
[[nodiscard]] const_matrix_map<T> as_matrix(const tensor<T, 2>& t) {
  return const_matrix_map<T>(t.data(), static_cast<Eigen::Index>(t.shape()[0]),
                             static_cast<Eigen::Index>(t.shape()[1]));
}

/// Views slice `index` of the leading axis of a rank-3 tensor ([n, rows, cols]) as a matrix.
template <class T>
[[nodiscard]] matrix_map<T> as_matrix(tensor<T, 3>& t, std::size_t index) {
  const auto rows = t.shape()[1];
  const auto cols = t.shape()[2];
  return matrix_map<T>(t.data() + index * rows * cols, static_cast<Eigen::Index>(rows),
                       static_cast<Eigen::Index>(cols));
}
template <class T>
[[nodiscard]] const_matrix_map<T> as_matrix(const tensor<T, 3>& t, std::size_t index) {
  const auto rows = t.shape()[1];
  const auto cols = t.shape()[2];
  return const_matrix_map<T>(t.data() + index * rows * cols, static_cast<Eigen::Index>(rows),
                             static_cast<Eigen::Index>(cols));
}

/// Views a contiguous tensor's storage as a flat span.
template <class T, std::size_t N>
[[nodiscard]] std::span<T> as_span(tensor<T, N>& t) {
  return {t.data(), t.size()};
}
template <class T, std::size_t N>
[[nodiscard]] std::span<const T> as_span(const tensor<T, N>& t) {
  return {t.data(), t.size()};
}

/// Non-owning xtensor view of external memory (e.g. a slice of the flat parameter buffer).
template <class T, std::size_t N>
[[nodiscard]] auto adapt(T* data, const std::array<std::size_t, N>& shape) {
  std::size_t size = 1;
  for (auto extent : shape) size *= extent;
  return xt::adapt(data, size, xt::no_ownership(), shape);
}

/// Formats a shape as "[2, 12, 2500]" for error messages.
template <class Shape>
[[nodiscard]] std::string shape_string(const Shape& shape) {
  std::string out = "[";
  bool first = true;
  for (auto extent : shape) {
    if (!first) out += ", ";
    out += std::to_string(extent);
    first = false;
  }
  return out + "]";
}

/// Throws shape_error unless `actual` equals `expected`; `what` names the tensor.
template <class ShapeA, class ShapeB>
void require_shape(const ShapeA& actual, const ShapeB& expected, const std::string& what) {
  const bool same = std::size(actual) == std::size(expected) &&
                    std::equal(std::begin(actual), std::end(actual), std::begin(expected));
  if (!same) {
    throw shape_error(at_field(what), "got shape " + shape_string(actual), shape_string(expected));
  }
}

}  // namespace ecgssl

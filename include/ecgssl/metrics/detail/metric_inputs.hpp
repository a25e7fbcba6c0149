#pragma once
// Input checks shared by the metrics: matching [records, classes] shapes, 0/1 decision matrices,
// finite scores. The official Challenge code raises on a non-binary confusion-matrix entry; here
// every bad entry is a data_error naming the matrix, record and class.

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>
#include <string>

#include "../../core/error.hpp"
#include "../../core/tensor.hpp"

namespace ecgssl::metrics::detail {

template <class A, class B>
void require_same_shape(const tensor<A, 2>& a, const char* a_name, const tensor<B, 2>& b, const char* b_name) {
  if (a.shape()[0] != b.shape()[0] || a.shape()[1] != b.shape()[1]) {
    throw shape_error(at_field(b_name), std::string("shape ") + shape_string(b.shape()),
                      shape_string(a.shape()) + " (the shape of " + a_name + ")");
  }
  if (a.shape()[0] == 0) {
    throw data_error(at_field(a_name), "no records", "at least one record ([records, classes] with records > 0)");
  }
}

/// Every entry must be exactly 0 or 1.
template <class T>
void require_binary(const tensor<T, 2>& m, const char* name) {
  const std::size_t rows = m.shape()[0];
  const std::size_t cols = m.shape()[1];
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      const T v = m(i, j);
      if (!(v == T(0) || v == T(1))) {
        throw data_error(at_field(std::string(name) + "[" + std::to_string(i) + ", " + std::to_string(j) + "]"),
                         "value " + std::to_string(static_cast<double>(v)) + " is not a decision",
                         "0 or 1 (threshold scores first, e.g. probability > 0.5)");
      }
    }
  }
}

/// Every entry must be finite (the official code silently replaces NaN outputs by 0; we refuse).
template <class T>
void require_finite(const tensor<T, 2>& m, const char* name) {
  const std::size_t rows = m.shape()[0];
  const std::size_t cols = m.shape()[1];
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      if (!std::isfinite(static_cast<double>(m(i, j)))) {
        throw data_error(at_field(std::string(name) + "[" + std::to_string(i) + ", " + std::to_string(j) + "]"),
                         "score is not finite", "finite scores");
      }
    }
  }
}

/// Mean of the non-NaN values (numpy nanmean); NaN when there are none.
inline double nan_mean(const std::vector<double>& values) {
  double sum = 0;
  std::size_t count = 0;
  for (const double v : values) {
    if (!std::isnan(v)) {
      sum += v;
      ++count;
    }
  }
  return count == 0 ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(count);
}

}  // namespace ecgssl::metrics::detail

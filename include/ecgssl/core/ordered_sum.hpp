#pragma once
/// \file ordered_sum.hpp
/// Sums whose order of additions depends only on the data's shape, never on where the data lie
/// in memory.
///
/// Why not Eigen's reductions (`x.sum()`, `m.colwise().sum()`) on mapped buffers: Eigen 3.4
/// starts a vectorised reduction at the first packet-aligned element and adds the elements
/// before it one by one, and computes a column sum with packets (rows paired) or scalars (rows
/// in sequence) depending on the destination's alignment. The same numbers then give different
/// bits when a buffer lands at another address: with AVX (32-byte packets) or AVX-512 (64-byte)
/// and malloc's 16-byte alignment, two identical training runs drifted apart by up to 3e-7 when
/// only the heap layout changed (issue 19). Element-wise loops have no such dependence: a
/// compiler may vectorise them, but every element still sees the same additions in the same
/// order.

#include <cstddef>

namespace ecgssl {

/// x[0] + x[1] + ... + x[n-1], added in that order.
template <class T>
[[nodiscard]] T ordered_sum(const T* x, std::size_t n) {
  T s = T(0);
  for (std::size_t i = 0; i < n; ++i) s += x[i];
  return s;
}

/// dst[j] += (m[0][j] + m[1][j] + ... + m[rows-1][j]) for a row-major m[rows, cols]: the rows of
/// each column are added in order, then the column's total is added to dst[j]. Columns go in
/// blocks whose partial sums live on the stack: training steps allocate nothing on the heap.
template <class T>
void add_column_sums(T* dst, const T* m, std::size_t rows, std::size_t cols) {
  if (rows == 0) return;
  constexpr std::size_t block = 64;
  T sums[block];
  for (std::size_t j0 = 0; j0 < cols; j0 += block) {
    const std::size_t width = cols - j0 < block ? cols - j0 : block;
    for (std::size_t j = 0; j < width; ++j) sums[j] = m[j0 + j];
    for (std::size_t i = 1; i < rows; ++i) {
      const T* row = m + i * cols + j0;
      for (std::size_t j = 0; j < width; ++j) sums[j] += row[j];
    }
    for (std::size_t j = 0; j < width; ++j) dst[j0 + j] += sums[j];
  }
}

}  // namespace ecgssl

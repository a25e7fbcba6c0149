#pragma once
/// \file tiles.hpp
/// Cache-sized tiles for the update rules: the moment updates run as a plain SIMD loop and the
/// square-root step as an Eigen array expression over the same L1-resident tile, because a
/// scalar std::sqrt keeps GCC from vectorising (errno handling) unless -fno-math-errno is given.
/// Internal.

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>

/// `#pragma omp simd` when OpenMP is on, nothing otherwise (no unknown-pragma warnings).
#if defined(_OPENMP)
#define ECGSSL_OMP_SIMD _Pragma("omp simd")
/// ECGSSL_OMP_SIMD_SUM reduces a variable that must be named `sum`.
#define ECGSSL_OMP_SIMD_SUM _Pragma("omp simd reduction(+ : sum)")
#else
#define ECGSSL_OMP_SIMD
#define ECGSSL_OMP_SIMD_SUM
#endif

namespace ecgssl::optim_detail {

inline constexpr std::size_t tile_elements = 1024;

/// Calls body(begin, size) for consecutive tiles of [0, n).
template <class Body>
inline void for_each_tile(std::size_t n, Body&& body) {
  for (std::size_t begin = 0; begin < n; begin += tile_elements) body(begin, std::min(tile_elements, n - begin));
}

/// An Eigen array view of data[begin, begin + size).
template <class T>
inline Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> tile(T* data, std::size_t begin, std::size_t size) {
  return {data + begin, static_cast<Eigen::Index>(size)};
}

}  // namespace ecgssl::optim_detail

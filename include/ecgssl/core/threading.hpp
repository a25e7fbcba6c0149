#pragma once
/// \file threading.hpp
/// OpenMP helpers and the determinism rule.
///
/// Determinism rule: (1) every parallel loop writes disjoint outputs, each computed by one thread
/// in a fixed order; (2) every reduction over many elements is split into fixed-size chunks (a
/// size that does not depend on the thread count), each chunk summed serially, the partial sums
/// then added serially in chunk order. Together with counter-based random numbers (philox.hpp)
/// this makes results bit-identical for a given seed whatever the number of threads, as long as
/// the matrix products themselves are (Eigen's GEMM is, for a fixed thread count; an external
/// BLAS may not be: see docs/design.md).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "precision.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace ecgssl {

/// Threads a parallel region will use.
inline int max_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Sets the number of threads for subsequent parallel regions (and Eigen's GEMM).
inline void set_threads(int threads) {
#if defined(_OPENMP)
  if (threads > 0) omp_set_num_threads(threads);
#else
  (void)threads;
#endif
}

/// Runs `body(i)` for i in [0, n) on the OpenMP team with a static schedule.
/// `body` must only write outputs that belong to index i. The calling thread's product precision
/// (precision.hpp) holds in every team thread for the loop's duration.
template <class Body>
void parallel_for(std::int64_t n, Body&& body) {
#if defined(_OPENMP)
  if (n > 1 && max_threads() > 1 && !omp_in_parallel()) {
    const precision caller_precision = product_precision();
#pragma omp parallel
    {
      const precision_scope same_as_caller(caller_precision);
#pragma omp for schedule(static)
      for (std::int64_t i = 0; i < n; ++i) body(i);
    }
    return;
  }
#endif
  for (std::int64_t i = 0; i < n; ++i) body(i);
}

/// The accumulator type for reductions over T: double for float inputs.
template <class T>
using accumulator_t = std::conditional_t<std::is_same_v<T, float>, double, T>;

/// Chunk length of deterministic reductions. Fixed, so the summation tree never depends on
/// the thread count.
inline constexpr std::size_t reduction_chunk = 4096;

/// Sum of `f(i)` for i in [0, n) with a summation order fixed by `reduction_chunk`.
template <class Acc, class F>
Acc deterministic_sum(std::size_t n, F&& f) {
  const std::size_t chunks = (n + reduction_chunk - 1) / reduction_chunk;
  if (chunks <= 1) {
    Acc total = 0;
    for (std::size_t i = 0; i < n; ++i) total += static_cast<Acc>(f(i));
    return total;
  }
  std::vector<Acc> partial(chunks, Acc(0));
  parallel_for(static_cast<std::int64_t>(chunks), [&](std::int64_t c) {
    const std::size_t begin = static_cast<std::size_t>(c) * reduction_chunk;
    const std::size_t end = std::min(n, begin + reduction_chunk);
    Acc sum = 0;
    for (std::size_t i = begin; i < end; ++i) sum += static_cast<Acc>(f(i));
    partial[static_cast<std::size_t>(c)] = sum;
  });
  Acc total = 0;
  for (auto value : partial) total += value;
  return total;
}

/// Deterministic sum of a span (accumulated in double for float).
template <class T>
accumulator_t<std::remove_const_t<T>> deterministic_sum(std::span<T> values) {
  using acc = accumulator_t<std::remove_const_t<T>>;
  return deterministic_sum<acc>(values.size(), [&](std::size_t i) { return values[i]; });
}

/// Deterministic sum of squares (for gradient norms).
template <class T>
accumulator_t<std::remove_const_t<T>> deterministic_sum_of_squares(std::span<T> values) {
  using acc = accumulator_t<std::remove_const_t<T>>;
  return deterministic_sum<acc>(values.size(), [&](std::size_t i) {
    const acc v = values[i];
    return v * v;
  });
}

}  // namespace ecgssl

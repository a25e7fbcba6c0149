// nn::detail::parallel_gemm: every transpose combination, assign and accumulate, splits along
// rows and along columns, against a plain triple loop in long double; bit-identical repeats at
// a fixed thread count.
#include <ecgssl/core/tensor.hpp>
#include <ecgssl/core/threading.hpp>
#include <ecgssl/nn/detail/gemm.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "nn_test_support.hpp"

namespace {

// c[m, n] = (accumulate ? c : 0) + alpha * sum_k a(i, k) b(k, j), by definition.
template <class T>
std::vector<T> reference(const std::vector<T>& a, bool ta, const std::vector<T>& b, bool tb,
                         const std::vector<T>& c0, long m, long n, long k, bool accumulate, T alpha) {
  std::vector<T> c(static_cast<std::size_t>(m * n));
  for (long i = 0; i < m; ++i) {
    for (long j = 0; j < n; ++j) {
      long double s = 0;
      for (long p = 0; p < k; ++p) {
        const T av = ta ? a[static_cast<std::size_t>(p * m + i)] : a[static_cast<std::size_t>(i * k + p)];
        const T bv = tb ? b[static_cast<std::size_t>(j * k + p)] : b[static_cast<std::size_t>(p * n + j)];
        s += static_cast<long double>(av) * bv;
      }
      const auto idx = static_cast<std::size_t>(i * n + j);
      c[idx] = static_cast<T>((accumulate ? static_cast<long double>(c0[idx]) : 0.0L) + alpha * s);
    }
  }
  return c;
}

template <class T>
std::vector<T> values(std::size_t count, std::uint64_t seed) {
  const ecgssl::random_stream rng(seed, 5);
  std::vector<T> v(count);
  for (std::size_t i = 0; i < count; ++i) v[i] = static_cast<T>(2.0 * rng.uniform(i) - 1.0);
  return v;
}

template <class T>
std::vector<T> run(const std::vector<T>& a, bool ta, const std::vector<T>& b, bool tb, std::vector<T> c,
                   long m, long n, long k, bool accumulate, T alpha) {
  auto cm = ecgssl::as_matrix(c.data(), m, n);
  const auto am = ta ? ecgssl::as_matrix(a.data(), k, m) : ecgssl::as_matrix(a.data(), m, k);
  const auto bm = tb ? ecgssl::as_matrix(b.data(), n, k) : ecgssl::as_matrix(b.data(), k, n);
  if (!ta && !tb) ecgssl::nn::detail::parallel_gemm(cm, am, bm, accumulate, alpha);
  if (ta && !tb) ecgssl::nn::detail::parallel_gemm(cm, am.transpose(), bm, accumulate, alpha);
  if (!ta && tb) ecgssl::nn::detail::parallel_gemm(cm, am, bm.transpose(), accumulate, alpha);
  if (ta && tb) ecgssl::nn::detail::parallel_gemm(cm, am.transpose(), bm.transpose(), accumulate, alpha);
  return c;
}

template <class T>
void check_shapes(double tolerance) {
  // (m, n, k): split along rows (m > n), along columns (n > m), ragged last panels, a product
  // too small to split, and an empty depth.
  const long shapes[][3] = {{301, 97, 130}, {50, 389, 77}, {146, 146, 3}, {7, 5, 9}, {200, 120, 0}};
  const int saved = ecgssl::max_threads();
  for (int threads : {1, 2, 3}) {
    ecgssl::set_threads(threads);
    for (const auto& s : shapes) {
      const long m = s[0], n = s[1], k = s[2];
      for (int variant = 0; variant < 8; ++variant) {
        const bool ta = (variant & 1) != 0, tb = (variant & 2) != 0, accumulate = (variant & 4) != 0;
        const T alpha = accumulate ? T(0.5) : T(1);
        const auto a = values<T>(static_cast<std::size_t>(m * k), 1);
        const auto b = values<T>(static_cast<std::size_t>(k * n), 2);
        const auto c0 = values<T>(static_cast<std::size_t>(m * n), 3);
        const auto expected = reference(a, ta, b, tb, c0, m, n, k, accumulate, alpha);
        const auto got = run(a, ta, b, tb, c0, m, n, k, accumulate, alpha);
        CAPTURE(threads);
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(k);
        CAPTURE(variant);
        double worst = 0;
        for (std::size_t i = 0; i < got.size(); ++i) {
          worst = std::max(worst, std::abs(static_cast<double>(got[i]) - static_cast<double>(expected[i])));
        }
        CHECK(worst <= tolerance * std::max<long>(k, 1));
        // Same inputs, same thread count: the same bits.
        CHECK(run(a, ta, b, tb, c0, m, n, k, accumulate, alpha) == got);
      }
    }
  }
  ecgssl::set_threads(saved);
}

}  // namespace

TEST_CASE("parallel_gemm matches the triple-loop product in double") { check_shapes<double>(1e-15); }

TEST_CASE("parallel_gemm matches the triple-loop product in float") { check_shapes<float>(2e-7); }

TEST_CASE("parallel_gemm splits into one panel per thread, each a multiple of 48 rows") {
  const int saved = ecgssl::max_threads();
  ecgssl::set_threads(2);
  if (ecgssl::max_threads() == 2) {  // false in a build without OpenMP
    CHECK(ecgssl::nn::detail::gemm_panels(1248) == 2);
    CHECK(ecgssl::nn::detail::gemm_panels(95) == 1);
    CHECK(ecgssl::nn::detail::gemm_panels(96) == 2);
  }
  CHECK(ecgssl::nn::detail::gemm_panels(10) == 1);
  ecgssl::set_threads(saved);
}

// serial_gemm's two less common operand forms: a column-major destination (a transposed
// row-major map, so BLAS runs in column-major layout), and pos_conv's overlapping-row window
// (leading dimension smaller than a row: not a BLAS operand, so it must take the Eigen path).
TEST_CASE("serial_gemm: column-major destination and overlapping-row windows") {
  using T = double;
  const long m = 37, n = 53, k = 19;
  const auto a = values<T>(static_cast<std::size_t>(m * k), 11);
  const auto b = values<T>(static_cast<std::size_t>(k * n), 12);
  const auto c0 = values<T>(static_cast<std::size_t>(m * n), 13);
  for (const bool accumulate : {false, true}) {
    CAPTURE(accumulate);
    // C^T stored row-major [n, m]: the destination C [m, n] is its column-major transpose.
    std::vector<T> ct(static_cast<std::size_t>(n * m));
    for (long i = 0; i < m; ++i) {
      for (long j = 0; j < n; ++j) ct[static_cast<std::size_t>(j * m + i)] = c0[static_cast<std::size_t>(i * n + j)];
    }
    ecgssl::nn::detail::serial_gemm(ecgssl::as_matrix(ct.data(), n, m).transpose(), ecgssl::as_matrix(a.data(), m, k),
                                    ecgssl::as_matrix(b.data(), k, n), accumulate, T(0.75));
    const auto expected = reference(a, false, b, false, c0, m, n, k, accumulate, T(0.75));
    double worst = 0;
    for (long i = 0; i < m; ++i) {
      for (long j = 0; j < n; ++j) {
        worst = std::max(worst, std::abs(ct[static_cast<std::size_t>(j * m + i)] - expected[static_cast<std::size_t>(i * n + j)]));
      }
    }
    CHECK(worst <= 1e-15 * k);
  }
  // Window: row t is x[t * step, t * step + width), rows overlap (step < width).
  const long rows = 40, width = 12, step = 3, cols_out = 7;
  const auto x = values<T>(static_cast<std::size_t>((rows - 1) * step + width), 14);
  const auto w = values<T>(static_cast<std::size_t>(width * cols_out), 15);
  using strided = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;
  const strided window(x.data(), rows, width, Eigen::OuterStride<>(step));
  std::vector<T> y(static_cast<std::size_t>(rows * cols_out));
  ecgssl::nn::detail::serial_gemm(ecgssl::as_matrix(y.data(), rows, cols_out), window,
                                  ecgssl::as_matrix(w.data(), width, cols_out), false);
  double worst = 0;
  for (long t = 0; t < rows; ++t) {
    for (long j = 0; j < cols_out; ++j) {
      long double s = 0;
      for (long p = 0; p < width; ++p) {
        s += static_cast<long double>(x[static_cast<std::size_t>(t * step + p)]) * w[static_cast<std::size_t>(p * cols_out + j)];
      }
      worst = std::max(worst, std::abs(static_cast<double>(s) - y[static_cast<std::size_t>(t * cols_out + j)]));
    }
  }
  CHECK(worst <= 1e-15 * width);
}

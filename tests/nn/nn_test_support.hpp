#pragma once
// Helpers shared by the nn tests: random tensors, gradient-check assertions and fixture loading.

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/core/tensor.hpp>
#include <ecgssl/core/threading.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "support/gradient_check.hpp"
#include "support/npy.hpp"

namespace nn_test {

/// Uniform values in [lo, hi) from a counter-based stream (independent of the code under test).
template <class T, std::size_t N>
ecgssl::tensor<T, N> random_tensor(const std::array<std::size_t, N>& shape, std::uint64_t seed,
                                   double lo = -1.0, double hi = 1.0) {
  ecgssl::tensor<T, N> t(shape);
  const ecgssl::random_stream rng(seed, 99);
  for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(lo + (hi - lo) * rng.uniform(i));
  return t;
}

/// Fills every parameter of a store with uniform values (so gradient checks see non-trivial
/// weights, e.g. gamma != 1).
template <class T>
void randomize(ecgssl::parameter_store<T>& store, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  const ecgssl::random_stream rng(seed, 98);
  auto values = store.values();
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<T>(lo + (hi - lo) * rng.uniform(i));
}

/// A [b, t, d] tensor of uniform values from `seed` (the attention and transformer-layer tests).
inline ecgssl::tensor<double, 3> random_input(std::size_t b, std::size_t t, std::size_t d, std::uint64_t seed) {
  auto x = ecgssl::tensor<double, 3>::from_shape({b, t, d});
  ecgssl::testing::fill_uniform(std::span<double>(x.data(), x.size()), seed);
  return x;
}

/// Every report within `tol`, naming the worst element of a failing one.
inline void check_all(const std::vector<ecgssl::testing::gradient_report>& reports, double tol) {
  for (const auto& r : reports) {
    INFO(r.where << " worst index " << r.worst_index << " analytic " << r.analytic << " numeric " << r.numeric);
    CHECK(r.max_relative_error < tol);
  }
}

/// Every report of check_layer within `tolerance`.
inline void require_gradients(const std::vector<ecgssl::testing::gradient_report>& reports,
                              double tolerance = 1e-6) {
  REQUIRE(!reports.empty());
  for (const auto& r : reports) {
    INFO("buffer ", r.where, " index ", r.worst_index, " analytic ", r.analytic, " numeric ", r.numeric);
    CHECK(r.max_relative_error < tolerance);
  }
}

inline std::string fixture(const std::string& name) {
  return std::string(ECGSSL_TEST_DATA_DIR) + "/nn/" + name + ".npy";
}

/// Loads a fixture into a tensor of rank N, checking its shape.
template <class T, std::size_t N>
ecgssl::tensor<T, N> load(const std::string& name) {
  const auto a = ecgssl::testing::read_npy(fixture(name));
  REQUIRE(a.shape.size() == N);
  std::array<std::size_t, N> shape{};
  std::copy(a.shape.begin(), a.shape.end(), shape.begin());
  ecgssl::tensor<T, N> t(shape);
  std::transform(a.values.begin(), a.values.end(), t.data(), [](double v) { return static_cast<T>(v); });
  return t;
}

/// Copies a fixture into a named parameter of the store.
template <class T>
void load_parameter(ecgssl::parameter_store<T>& store, const std::string& param, const std::string& name) {
  const auto a = ecgssl::testing::read_npy(fixture(name));
  auto values = store.values(param);
  REQUIRE(values.size() == a.values.size());
  const auto* entry = store.find(param);
  REQUIRE(entry != nullptr);
  CHECK(entry->shape == a.shape);
  std::transform(a.values.begin(), a.values.end(), values.begin(), [](double v) { return static_cast<T>(v); });
}

/// |a - b| <= rtol * (|b| + max|b|): relative to each element, with a floor at the array's scale
/// so values that cancel to near zero are judged against the magnitude of their neighbours.
template <class T>
void require_close(const T* actual, std::size_t n, const std::string& name, double rtol) {
  const auto expected = ecgssl::testing::read_npy(fixture(name));
  REQUIRE(expected.values.size() == n);
  double scale = 0.0;
  for (double v : expected.values) scale = std::max(scale, std::abs(v));
  double worst = 0.0;
  std::size_t worst_index = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double e = expected.values[i];
    const double err = std::abs(static_cast<double>(actual[i]) - e) / (std::abs(e) + scale + 1e-30);
    if (err > worst) worst = err, worst_index = i;
  }
  INFO(name, ": worst relative error ", worst, " at ", worst_index);
  CHECK(worst <= rtol);
}
template <class T, std::size_t N>
void require_close(const ecgssl::tensor<T, N>& actual, const std::string& name, double rtol) {
  require_close(actual.data(), actual.size(), name, rtol);
}
template <class T>
void require_close(std::span<T> actual, const std::string& name, double rtol) {
  require_close(actual.data(), actual.size(), name, rtol);
}

/// Runs make() -> layer, forward and backward (dy = y) with `threads` threads; returns y, dx and
/// the parameter gradients, for bitwise comparisons across thread counts.
template <class Make, class Input>
auto run_with_threads(Make make, const Input& x, int threads, std::uint64_t seed = 5) {
  using layer_t = decltype(make());
  using T = typename layer_t::scalar_type;
  const int saved = ecgssl::max_threads();
  ecgssl::set_threads(threads);
  ecgssl::parameter_store<T> store;
  layer_t layer = make();
  layer.declare_parameters(store, "");
  store.allocate();
  randomize(store, seed);
  typename layer_t::output_type y;
  layer.forward(x, y);
  Input dx(x.shape());
  std::fill(dx.data(), dx.data() + dx.size(), T(0));
  layer.backward(y, dx);
  ecgssl::set_threads(saved);
  std::vector<T> grads(store.grads().begin(), store.grads().end());
  return std::tuple{y, dx, grads};
}

/// The layer gives bit-identical results with 1 thread and with 4 (the determinism rule of
/// core/threading.hpp). With the products on OpenBLAS (ECGSSL_USE_OPENBLAS) the rule is weaker,
/// as docs/design.md says: OpenBLAS picks its kernels by matrix shape, so one panel per thread
/// can round differently from one panel in all; results agree to float rounding across thread
/// counts and are bit-identical across runs with the same thread count.
template <class Make, class Input>
void require_thread_independent(Make make, const Input& x) {
  const auto one = run_with_threads(make, x, 1);
  const auto many = run_with_threads(make, x, 4);
#if defined(ECGSSL_USE_OPENBLAS)
  CHECK(run_with_threads(make, x, 4) == many);
  const auto close = [](const auto& a, const auto& b) {
    if (a.size() != b.size()) return false;
    double scale = 0, worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      scale = std::max(scale, std::abs(static_cast<double>(a.data()[i])));
      worst = std::max(worst, std::abs(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i])));
    }
    return worst <= 1e-5 * std::max(scale, 1.0);
  };
  CHECK(close(std::get<0>(one), std::get<0>(many)));
  CHECK(close(std::get<1>(one), std::get<1>(many)));
  CHECK(close(std::get<2>(one), std::get<2>(many)));
#else
  CHECK(std::get<0>(one) == std::get<0>(many));
  CHECK(std::get<1>(one) == std::get<1>(many));
  CHECK(std::get<2>(one) == std::get<2>(many));
#endif
}

}  // namespace nn_test

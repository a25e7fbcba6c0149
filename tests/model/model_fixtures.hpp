#pragma once
// Loading the PyTorch parity fixtures of tools/make_model_fixtures.py (tests/data/model/<case>/).

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/tensor.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "support/npy.hpp"

namespace model_test {

inline ecgssl::testing::npy_array read(const std::string& test_case, const std::string& name) {
  return ecgssl::testing::read_npy(std::string(ECGSSL_TEST_DATA_DIR) + "/model/" + test_case + "/" + name + ".npy");
}

template <class T, std::size_t N>
ecgssl::tensor<T, N> load(const std::string& test_case, const std::string& name) {
  const auto a = read(test_case, name);
  REQUIRE(a.shape.size() == N);
  std::array<std::size_t, N> shape{};
  std::copy(a.shape.begin(), a.shape.end(), shape.begin());
  ecgssl::tensor<T, N> t(shape);
  std::transform(a.values.begin(), a.values.end(), t.data(), [](double v) { return static_cast<T>(v); });
  return t;
}

template <class T>
std::vector<T> load_flat(const std::string& test_case, const std::string& name) {
  return read(test_case, name).as<T>();
}

/// Copies a fixture into the named parameter, checking the shape.
template <class T>
void load_parameter(ecgssl::parameter_store<T>& store, const std::string& param, const std::string& test_case,
                    const std::string& name) {
  const auto a = read(test_case, name);
  INFO(param);
  const auto* entry = store.find(param);
  REQUIRE(entry != nullptr);
  REQUIRE(entry->shape == a.shape);
  auto values = store.values(param);
  std::transform(a.values.begin(), a.values.end(), values.begin(), [](double v) { return static_cast<T>(v); });
}

/// |actual - expected| <= rtol * (|expected| + max|expected|) elementwise: relative, with a
/// floor at the array's scale for entries that cancel to near zero.
/// `floor` bounds the array scale from below: needed where the exact result is zero (the key
/// projection's bias gets no gradient, softmax being invariant to a per-row shift).
template <class T>
void require_close(const T* actual, const std::vector<double>& expected, const std::string& what, double rtol,
                   double floor = 0.0) {
  double scale = floor;
  for (double e : expected) scale = std::max(scale, std::abs(e));
  std::size_t bad = 0;
  double worst = 0;
  std::size_t worst_index = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double err = std::abs(static_cast<double>(actual[i]) - expected[i]) / (std::abs(expected[i]) + scale);
    if (err > rtol) ++bad;
    if (err > worst) {
      worst = err;
      worst_index = i;
    }
  }
  INFO(what << ": worst relative error " << worst << " at " << worst_index << " (actual "
            << static_cast<double>(actual[worst_index]) << ", expected " << expected[worst_index] << ")");
  CHECK(bad == 0u);
}

template <class T>
void require_close(const T* actual, const std::string& test_case, const std::string& name, double rtol,
                   double floor = 0.0) {
  require_close(actual, read(test_case, name).values, test_case + "/" + name, rtol, floor);
}

}  // namespace model_test

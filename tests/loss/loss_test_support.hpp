#pragma once
// Helpers for the loss tests: fixture loading as tensors, and tensor comparison.

#include <ecgssl/core/tensor.hpp>

#include <support/gradient_check.hpp>
#include <support/npy.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace ecgssl::testing {

inline std::string loss_fixture(const std::string& name) {
  return std::string(ECGSSL_TEST_DATA_DIR) + "/loss/" + name + ".npy";
}

/// A fixture as a tensor of rank N and scalar T (shape checked).
template <class T, std::size_t N>
tensor<T, N> load_tensor(const std::string& name) {
  const auto array = read_npy(loss_fixture(name));
  if (array.shape.size() != N) throw shape_error(in_file(loss_fixture(name)), "wrong rank");
  std::array<std::size_t, N> shape{};
  std::copy(array.shape.begin(), array.shape.end(), shape.begin());
  tensor<T, N> out(shape);
  std::transform(array.values.begin(), array.values.end(), out.data(), [](double v) { return static_cast<T>(v); });
  return out;
}

inline std::vector<std::int64_t> load_ids(const std::string& name) {
  return read_npy(loss_fixture(name)).as<std::int64_t>();
}

inline double load_scalar(const std::string& name) { return read_npy(loss_fixture(name)).values.at(0); }

/// max_i |a_i - b_i| / max(1e-12, max_i |b_i|): error relative to the reference's scale.
template <class A, class B>
double scaled_difference(const A& a, const B& b) {
  double worst = 0;
  double scale = 1e-12;
  for (std::size_t i = 0; i < b.size(); ++i) scale = std::max(scale, std::abs(static_cast<double>(b.data()[i])));
  for (std::size_t i = 0; i < b.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i])));
  }
  return worst / scale;
}

inline double relative(double a, double b) { return std::abs(a - b) / std::max(1e-12, std::abs(b)); }

}  // namespace ecgssl::testing

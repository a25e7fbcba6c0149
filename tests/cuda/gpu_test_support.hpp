// Helpers shared by the CUDA backend's tests (the GPU parity tests and the host replays of the
// kernels' math): reproducible random inputs, the comparisons (largest absolute difference,
// alone or over the reference's scale) and per-precision tolerances. Plain C++: g++ and nvcc.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/core/tensor.hpp>
#include <ecgssl/model/configs.hpp>

namespace gpu_test {

/// Uniform in [-scale, scale), from Philox stream `stream` of `seed` (each test file has its own
/// seed, so the inputs the tolerances were measured on stay the same).
template <class T, std::size_t N>
ecgssl::tensor<T, N> random_tensor(std::uint64_t seed, const std::array<std::size_t, N>& shape, std::uint64_t stream,
                                   double scale = 1.0) {
  const ecgssl::random_stream rng(seed, stream);
  ecgssl::tensor<T, N> t(shape);
  for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>((2.0 * rng.uniform(i) - 1.0) * scale);
  return t;
}

/// Uniform doubles in [-scale, scale), as random_tensor.
inline std::vector<double> random_values(std::uint64_t seed, std::size_t n, std::uint64_t stream, double scale = 1.0) {
  const ecgssl::random_stream rng(seed, stream);
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = (2.0 * rng.uniform(i) - 1.0) * scale;
  return v;
}

/// max |a - b| over two buffers of the same size (the sizes must match).
inline double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

/// max |device - host| / max(max |host|, floor) over n elements. `floor` lets a buffer whose
/// exact values are zero (so both sides hold rounding noise) be judged against a wider scale.
template <class T>
double relative_difference(const T* device, const T* host, std::size_t n, double floor = 1e-30) {
  double diff = 0;
  double mag = floor;
  for (std::size_t i = 0; i < n; ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(device[i]) - static_cast<double>(host[i])));
    mag = std::max(mag, std::abs(static_cast<double>(host[i])));
  }
  return diff / mag;
}

/// Declares the host layer's and the device layer's parameters under `prefix` in their own
/// stores, allocates both and fills them with the same values, uniform in [-scale, scale).
template <class T, class HostLayer, class DeviceLayer>
void declare_twins(HostLayer& host, DeviceLayer& device, ecgssl::parameter_store<T>& host_store,
                   ecgssl::parameter_store<T>& device_store, const std::string& prefix, std::uint64_t seed,
                   double scale = 1.0) {
  host.declare_parameters(host_store, prefix);
  device.declare_parameters(device_store, prefix);
  host_store.allocate();
  device_store.allocate();
  REQUIRE(host_store.size() == device_store.size());
  const auto init = random_values(seed, host_store.size(), 1, scale);
  for (std::size_t i = 0; i < host_store.size(); ++i) {
    host_store.values()[i] = device_store.values()[i] = static_cast<T>(init[i]);
  }
}

template <class T>
constexpr double tol(double for_float, double for_double) {
  return std::is_same_v<T, float> ? for_float : for_double;
}

/// A smaller tiny encoder (fast on both backends) with every part the paper's model has:
/// embed_dim != conv_dim, so post_extract_proj is used. Masking and heads as in tiny_config
/// (off); the pre-training tests switch them on.
inline ecgssl::model::ecg_transformer_options small_encoder_options() {
  auto o = ecgssl::model::tiny_config<double>::options();
  o.conv_dim = 32;
  o.embed_dim = 48;
  o.final_dim = 16;
  o.layers = 2;
  o.heads = 4;
  o.ffn_dim = 64;
  o.latent_vars = 24;
  o.pos_kernel = 16;
  o.pos_groups = 4;
  return o;
}

}  // namespace gpu_test

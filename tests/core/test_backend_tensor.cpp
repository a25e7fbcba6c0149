// core/backend_tensor.hpp: which storage a layer on the host backend uses for its activations
// and workspaces (the cuda mapping is checked in tests/cuda/header_compile.cu, which nvcc
// compiles, and exercised by the GPU tests).
#include <doctest/doctest.h>

#include <ecgssl/core/backend_tensor.hpp>

#include <type_traits>
#include <vector>

namespace {

// A backend with no specialisation has no backend_tensor type (a compile error, never a silent
// fallback to host memory).
template <class T, std::size_t N, class B>
concept has_backend_tensor = requires { typename ecgssl::backend_tensor<T, N, B>::type; };

}  // namespace

TEST_CASE("backend_tensor maps the host backend to host tensors and vectors") {
  static_assert(std::is_same_v<ecgssl::backend_tensor_t<float, 3, ecgssl::host>, ecgssl::tensor<float, 3>>);
  static_assert(std::is_same_v<ecgssl::backend_tensor_t<double, 2, ecgssl::host>, ecgssl::tensor<double, 2>>);
  static_assert(std::is_same_v<ecgssl::backend_array_t<float, ecgssl::host>, std::vector<float>>);
  static_assert(has_backend_tensor<float, 3, ecgssl::host>);
  // Without <ecgssl/cuda/device_tensor.cuh> the cuda backend has no activation type.
  static_assert(!has_backend_tensor<float, 3, ecgssl::cuda>);

  // The host activation type behaves as a row-major tensor of the requested rank.
  ecgssl::backend_tensor_t<float, 3, ecgssl::host> t({2, 3, 4});
  CHECK(t.dimension() == 3);
  t(1, 2, 3) = 5.0f;
  CHECK(t.data()[1 * 12 + 2 * 4 + 3] == 5.0f);
}

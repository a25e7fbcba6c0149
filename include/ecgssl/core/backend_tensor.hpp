#pragma once
/// \file backend_tensor.hpp
/// Where a backend keeps a layer's activations and caches (DESIGN: backends are type tags).
/// `backend_tensor_t<T, N, B>` is the input/output/cache type of a layer on backend B;
/// `backend_array_t<T, B>` a flat per-row workspace (norm statistics). The host keeps them in
/// host memory (`tensor<T, N>`, `std::vector<T>`); the cuda specialisations live in
/// <ecgssl/cuda/device_tensor.cuh> (device memory). Like `implementation<Op, B>`, the primary
/// templates are declared only: using a layer on cuda without that header is a compile error,
/// never a silent host fallback.

#include <cstddef>
#include <vector>

#include "backend.hpp"
#include "tensor.hpp"

namespace ecgssl {

/// The N-d activation type of backend B (specialised per backend).
template <class T, std::size_t N, backend B>
struct backend_tensor;

template <class T, std::size_t N>
struct backend_tensor<T, N, host> {
  using type = tensor<T, N>;
};

template <class T, std::size_t N, backend B>
using backend_tensor_t = typename backend_tensor<T, N, B>::type;

/// The flat workspace type of backend B: has resize(n) and data() (specialised per backend).
template <class T, backend B>
struct backend_array;

template <class T>
struct backend_array<T, host> {
  using type = std::vector<T>;
};

template <class T, backend B>
using backend_array_t = typename backend_array<T, B>::type;

}  // namespace ecgssl

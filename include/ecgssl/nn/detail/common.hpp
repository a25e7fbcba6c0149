#pragma once
/// \file common.hpp
/// Internals shared by the nn layers: workspace resizing without reallocation, shape checks with
/// typed errors, child random streams, and the fan-in based initialisers of spec §3.10.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <span>
#include <string>
#include <type_traits>

#include "../../core/backend.hpp"
#include "../../core/error.hpp"
#include "../../core/parameter_store.hpp"
#include "../../core/philox.hpp"
#include "../../core/tensor.hpp"
#include "../../core/threading.hpp"

namespace ecgssl::nn::detail {

/// Resizes `t` only when its shape differs, so a workspace reused across steps of one shape
/// never touches the heap after the first call.
template <class T, std::size_t N, class Shape>
void ensure_shape(tensor<T, N>& t, const Shape& shape) {
  if (!std::equal(t.shape().begin(), t.shape().end(), std::begin(shape), std::end(shape))) {
    std::array<std::size_t, N> s{};
    std::copy(std::begin(shape), std::end(shape), s.begin());
    t.resize(s);
  }
}

/// dst <- src (same shape afterwards), reusing dst's storage when the shape is unchanged.
template <class T, std::size_t N>
void copy_into(tensor<T, N>& dst, const tensor<T, N>& src) {
  ensure_shape(dst, src.shape());
  std::copy(src.data(), src.data() + src.size(), dst.data());
}

/// Resizes (if needed) and zero-fills.
template <class T, std::size_t N, class Shape>
void zero_like(tensor<T, N>& t, const Shape& shape) {
  ensure_shape(t, shape);
  std::fill(t.data(), t.data() + t.size(), T(0));
}

/// dst += src elementwise (same shape), on the host.
template <class T, std::size_t N>
void accumulate(tensor<T, N>& dst, const tensor<T, N>& src) {
  for (std::size_t i = 0; i < dst.size(); ++i) dst.data()[i] += src.data()[i];
}

/// dst <- host tensor src (same shape afterwards): a copy on the host.
template <class T, std::size_t N>
void assign_from_host(tensor<T, N>& dst, const tensor<T, N>& src) {
  copy_into(dst, src);
}

/// dst <- the elements of src in order, under `shape` (same element count): a reshaping copy.
template <class T, std::size_t N, std::size_t M>
void copy_reshaped(tensor<T, N>& dst, const std::array<std::size_t, N>& shape, const tensor<T, M>& src) {
  ensure_shape(dst, shape);
  if (dst.size() != src.size()) {
    throw shape_error(at_field("copy_reshaped"), std::to_string(src.size()) + " elements",
                      std::to_string(dst.size()) + " (the target shape's size)");
  }
  std::copy(src.data(), src.data() + src.size(), dst.data());
}

// The same helpers for activation types that live elsewhere (cuda's device_tensor): such a type
// implements them as members, so layers written against these names run on every backend.
template <class D, class Shape>
  requires requires(D& d, const Shape& s) { d.ensure_shape(s); }
void ensure_shape(D& t, const Shape& shape) {
  t.ensure_shape(shape);
}
template <class D>
  requires requires(D& d, const D& s) { d.copy_from(s); }
void copy_into(D& dst, const D& src) {
  dst.copy_from(src);
}
template <class D, class Shape>
  requires requires(D& d, const Shape& s) {
    d.ensure_shape(s);
    d.zero();
  }
void zero_like(D& t, const Shape& shape) {
  t.ensure_shape(shape);
  t.zero();
}
template <class D>
  requires requires(D& d, const D& s) { d.accumulate(s); }
void accumulate(D& dst, const D& src) {
  dst.accumulate(src);
}
template <class D, class H>
  requires requires(D& d, const H& h) { d.copy_from_host(h); }
void assign_from_host(D& dst, const H& src) {
  dst.copy_from_host(src);
}

template <class D, class S, class Shape>
  requires requires(D& d, const S& s, const Shape& shape) { d.copy_reshaped_from(s, shape); }
void copy_reshaped(D& dst, const Shape& shape, const S& src) {
  dst.copy_reshaped_from(src, shape);
}

/// A parameter's values / gradients where backend B computes: the host store's buffers, or
/// the store's device mirror (cuda).
template <class B, class T>
T* values_of(const parameter<T>& p) {
  if constexpr (std::is_same_v<B, host>) {
    return p.value().data();
  } else {
    return p.device_value();
  }
}
template <class B, class T>
T* grads_of(const parameter<T>& p) {
  if constexpr (std::is_same_v<B, host>) {
    return p.grad().data();
  } else {
    return p.device_grad();
  }
}
/// values_of / grads_of, or nullptr for an absent (invalid) parameter such as a disabled bias.
template <class B, class T>
T* values_or_null(const parameter<T>& p) {
  return p.valid() ? values_of<B>(p) : nullptr;
}
template <class B, class T>
T* grads_or_null(const parameter<T>& p) {
  return p.valid() ? grads_of<B>(p) : nullptr;
}

// The checks below run on every forward/backward: they build their message strings only when
// they fail, so a passing check never allocates.

/// An empty layer name (for checks in unnamed containers).
inline const std::string no_name;

/// Throws shape_error when `extent` (axis `axis` of tensor `<name><what>`) differs from `expected`.
inline void require_extent(std::size_t extent, std::size_t expected, const std::string& name,
                           const char* what, const char* axis) {
  if (extent != expected) {
    throw shape_error(at_field(name + what), std::string(axis) + " has " + std::to_string(extent) + " elements",
                      std::to_string(expected));
  }
}

/// Throws shape_error naming `<name><what>` unless the shapes are equal.
template <class ShapeA, class ShapeB>
void check_shape(const ShapeA& actual, const ShapeB& expected, const std::string& name, const char* what) {
  const bool same = std::size(actual) == std::size(expected) &&
                    std::equal(std::begin(actual), std::end(actual), std::begin(expected));
  if (!same) require_shape(actual, expected, name + what);
}

/// Throws config_error when a layer runs before declare_parameters() gave it its tensors.
inline void require_declared(bool declared, const std::string& name) {
  if (!declared) {
    throw config_error(at_field(name.empty() ? std::string("layer") : name),
                       "forward called before declare_parameters()",
                       "declare_parameters(store, prefix) and store.allocate() first");
  }
}

/// Throws config_error when backward is called without a cached forward.
inline void require_forward_done(bool done, const std::string& name) {
  if (!done) {
    throw config_error(at_field(name + "backward"), "backward called before forward", "forward first");
  }
}

/// The stream a container hands to its child `index`: distinct per child, a pure function of the
/// parent stream, so initialisation does not depend on declaration order elsewhere in the model.
inline random_stream child_stream(const random_stream& parent, std::uint64_t index) {
  return random_stream(parent.seed(), stream_id({parent.stream(), index}));
}

/// Product of the extents before the last axis (rows of a "last axis" operation).
template <class Shape>
std::size_t leading_size(const Shape& shape) {
  std::size_t rows = 1;
  for (std::size_t i = 0; i + 1 < std::size(shape); ++i) rows *= shape[i];
  return rows;
}

/// Fills `values` with U(-bound, bound): draw i of `rng`.
template <class T>
void fill_uniform(std::span<T> values, const random_stream& rng, double bound) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<T>((2.0 * rng.uniform(i) - 1.0) * bound);
  }
}

/// Fills `values` with N(0, stddev^2): draw i of `rng`.
template <class T>
void fill_normal(std::span<T> values, const random_stream& rng, double stddev) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<T>(rng.normal(i) * stddev);
  }
}

template <class T>
void fill_constant(std::span<T> values, T value) {
  std::fill(values.begin(), values.end(), value);
}

/// Number of elements per parallel chunk of elementwise work; fixed so results never depend on
/// the thread count.
inline constexpr std::size_t elementwise_chunk = 16384;

/// Runs body(begin, end) over [0, n) in fixed-size chunks on the OpenMP team.
template <class Body>
void for_chunks(std::size_t n, Body&& body) {
  const std::size_t chunks = (n + elementwise_chunk - 1) / elementwise_chunk;
  parallel_for(static_cast<std::int64_t>(chunks), [&](std::int64_t c) {
    const std::size_t begin = static_cast<std::size_t>(c) * elementwise_chunk;
    body(begin, std::min(n, begin + elementwise_chunk));
  });
}

}  // namespace ecgssl::nn::detail

namespace ecgssl::nn::detail {

/// Index of the calling thread in the current OpenMP team (0 outside parallel regions); picks a
/// per-thread workspace.
inline std::size_t thread_index() {
#if defined(_OPENMP)
  return static_cast<std::size_t>(omp_get_thread_num());
#else
  return 0;
#endif
}

}  // namespace ecgssl::nn::detail

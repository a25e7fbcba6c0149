#pragma once
/// \file index_math.cuh
/// Index arithmetic of the CUDA kernels, written as ECGSSL_HOST_DEVICE functions with no CUDA
/// dependency so the host compiler can test it (tests/cuda/test_index_math.cpp) on machines
/// without a GPU.

#include <cstdint>

#include "../../core/config.hpp"

namespace ecgssl::cuda_detail {

/// conv1d geometry as plain signed integers, usable in device code (the host geometry's member
/// functions are host-only). Same meaning as nn::detail::conv1d_geometry.
struct conv1d_dims {
  std::int64_t batch = 0, in_channels = 0, out_channels = 0, length = 0, out_length = 0;
  std::int64_t kernel = 1, stride = 1, padding = 0, dilation = 1, groups = 1;
  ECGSSL_HOST_DEVICE std::int64_t in_per_group() const { return in_channels / groups; }
  ECGSSL_HOST_DEVICE std::int64_t out_per_group() const { return out_channels / groups; }
  /// Rows of one group's im2col matrix: (input channel, tap) pairs.
  ECGSSL_HOST_DEVICE std::int64_t patch() const { return in_per_group() * kernel; }
};

/// Input position read by tap k at output position t: t*stride + k*dilation - padding, or -1
/// when that falls in the zero padding (outside [0, length)).
ECGSSL_HOST_DEVICE inline std::int64_t im2col_source(const conv1d_dims& d, std::int64_t k,
                                                     std::int64_t t) {
  const std::int64_t x = t * d.stride + k * d.dilation - d.padding;
  return (x >= 0 && x < d.length) ? x : -1;
}

/// The inverse, for the gather form of col2im (no atomics, so deterministic): the output
/// position t whose tap k reads input position x, or -1 when there is none.
ECGSSL_HOST_DEVICE inline std::int64_t col2im_target(const conv1d_dims& d, std::int64_t k,
                                                     std::int64_t x) {
  const std::int64_t shifted = x + d.padding - k * d.dilation;
  if (shifted < 0 || shifted % d.stride != 0) return -1;
  const std::int64_t t = shifted / d.stride;
  return t < d.out_length ? t : -1;
}

/// Normalisation geometry (see nn::detail::norm_op) as signed integers.
struct norm_dims {
  std::int64_t rows = 0, inner = 0, groups = 1, span = 1, features = 0;
  /// Elements that share one feature (gamma/beta entry).
  ECGSSL_HOST_DEVICE std::int64_t per_feature() const { return (rows / groups) * span; }
  /// Feature index of element j of row r: (r % groups) * (inner / span) + j / span.
  ECGSSL_HOST_DEVICE std::int64_t feature_of(std::int64_t r, std::int64_t j) const {
    return (r % groups) * (inner / span) + j / span;
  }
};

/// Flat index of the k-th element (0 <= k < per_feature()) of feature f, in row order: the rows
/// of f's group are r = group, group + groups, ...; inside a row f owns `span` contiguous
/// elements starting at (f % features per group) * span.
ECGSSL_HOST_DEVICE inline std::int64_t norm_feature_element(const norm_dims& d, std::int64_t f,
                                                            std::int64_t k) {
  const std::int64_t per_group = d.inner / d.span;
  const std::int64_t group = f / per_group;
  const std::int64_t offset = (f % per_group) * d.span;
  const std::int64_t r = group + (k / d.span) * d.groups;
  return r * d.inner + offset + k % d.span;
}

}  // namespace ecgssl::cuda_detail

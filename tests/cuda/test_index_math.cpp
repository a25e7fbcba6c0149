// Host tests of the CUDA kernels' index arithmetic (cuda/detail/index_math.cuh), checked against
// the host twins' own definitions by brute force: conv1d's valid_range and the norm_op feature
// rule.
#include <ecgssl/cuda/detail/index_math.cuh>
#include <ecgssl/nn/detail/conv1d_kernels.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

namespace cd = ecgssl::cuda_detail;

namespace {
cd::conv1d_dims dims(std::int64_t length, std::int64_t kernel, std::int64_t stride,
                     std::int64_t padding, std::int64_t dilation) {
  cd::conv1d_dims d;
  d.batch = 1;
  d.in_channels = d.out_channels = 1;
  d.length = length;
  d.kernel = kernel;
  d.stride = stride;
  d.padding = padding;
  d.dilation = dilation;
  // PyTorch's output length.
  d.out_length = (length + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
  return d;
}
}  // namespace

TEST_CASE(
    "im2col_source reads t*s + k*d - p inside the signal and agrees with the host valid_range") {
  for (const auto& d : {dims(20, 3, 1, 1, 1), dims(23, 10, 5, 0, 1), dims(17, 4, 2, 3, 2),
                        dims(9, 128, 1, 64, 1)}) {
    ecgssl::nn::detail::conv1d_geometry g;
    g.length = static_cast<std::size_t>(d.length);
    g.out_length = static_cast<std::size_t>(d.out_length);
    g.kernel = static_cast<std::size_t>(d.kernel);
    g.stride = static_cast<std::size_t>(d.stride);
    g.padding = static_cast<std::size_t>(d.padding);
    g.dilation = static_cast<std::size_t>(d.dilation);
    for (std::int64_t k = 0; k < d.kernel; ++k) {
      std::size_t lo = 0, hi = 0;
      ecgssl::nn::detail::valid_range(g, static_cast<std::size_t>(k), lo, hi);
      for (std::int64_t t = 0; t < d.out_length; ++t) {
        const std::int64_t src = cd::im2col_source(d, k, t);
        const bool inside = static_cast<std::size_t>(t) >= lo && static_cast<std::size_t>(t) < hi;
        CHECK((src >= 0) == inside);
        if (src >= 0) CHECK(src == t * d.stride + k * d.dilation - d.padding);
      }
    }
  }
}

TEST_CASE("col2im_target inverts im2col_source exactly") {
  for (const auto& d :
       {dims(20, 3, 1, 1, 1), dims(23, 10, 5, 0, 1), dims(17, 4, 2, 3, 2), dims(40, 2, 2, 0, 1)}) {
    std::int64_t forward_pairs = 0;
    std::int64_t inverse_pairs = 0;
    for (std::int64_t k = 0; k < d.kernel; ++k) {
      for (std::int64_t t = 0; t < d.out_length; ++t) {
        const std::int64_t x = cd::im2col_source(d, k, t);
        if (x < 0) continue;
        ++forward_pairs;
        CHECK(cd::col2im_target(d, k, x) == t);
      }
      for (std::int64_t x = 0; x < d.length; ++x) {
        const std::int64_t t = cd::col2im_target(d, k, x);
        if (t < 0) continue;
        ++inverse_pairs;
        CHECK(cd::im2col_source(d, k, t) == x);
      }
    }
    CHECK(forward_pairs == inverse_pairs);
  }
}

TEST_CASE("norm_feature_element enumerates exactly the elements of each feature, in row order") {
  // layer_norm over [6, 5]; group_norm over [2 samples, 6 channels, 4 steps] with 3 groups.
  const cd::norm_dims cases[] = {{6, 5, 1, 1, 5}, {2 * 3, 2 * 4, 3, 4, 6}, {4, 12, 1, 12, 1}};
  for (const auto& d : cases) {
    std::vector<int> seen(static_cast<std::size_t>(d.rows * d.inner), 0);
    for (std::int64_t f = 0; f < d.features; ++f) {
      std::int64_t previous = -1;
      for (std::int64_t k = 0; k < d.per_feature(); ++k) {
        const std::int64_t e = cd::norm_feature_element(d, f, k);
        REQUIRE(e >= 0);
        REQUIRE(e < d.rows * d.inner);
        CHECK(d.feature_of(e / d.inner, e % d.inner) == f);
        CHECK(e > previous);  // row order, as the host sums
        previous = e;
        ++seen[static_cast<std::size_t>(e)];
      }
    }
    for (int count : seen) CHECK(count == 1);
  }
}

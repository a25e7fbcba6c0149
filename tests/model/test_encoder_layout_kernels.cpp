// The host twin of the encoder's layout steps (model/detail/encoder_layout_kernels.hpp), on
// inputs small enough to work out by hand. The cuda twin (cuda/layout_kernels.cuh) is compared
// against these in tests/cuda/test_gpu_*.cu.
#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <vector>

#include <ecgssl/model/detail/encoder_layout_kernels.hpp>

namespace {
using layout = ecgssl::implementation<ecgssl::model::detail::encoder_layout_op, ecgssl::host>;
}

TEST_CASE("encoder layout: swap_last_axes writes [b, c, r] from [b, r, c] and accumulates on request") {
  // x: [2, 2, 3]
  const std::vector<double> x{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<double> y(12, -1.0);
  layout::swap_last_axes<false>(x.data(), y.data(), 2, 2, 3);
  CHECK(y == std::vector<double>{1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12});
  layout::swap_last_axes<true>(x.data(), y.data(), 2, 2, 3);
  CHECK(y == std::vector<double>{2, 8, 4, 10, 6, 12, 14, 20, 16, 22, 18, 24});
}

TEST_CASE("encoder layout: gather_rows and scatter_add_rows move whole rows") {
  const std::vector<float> src{0, 1, 10, 11, 20, 21, 30, 31};  // 4 rows of 2
  const std::array<std::size_t, 2> rows{3, 1};
  std::vector<float> gathered(4);
  layout::gather_rows(src.data(), rows.data(), 2, 2, gathered.data());
  CHECK(gathered == std::vector<float>{30, 31, 10, 11});
  std::vector<float> dst(8, 1.0f);
  layout::scatter_add_rows(gathered.data(), rows.data(), 2, 2, dst.data());
  CHECK(dst == std::vector<float>{1, 1, 11, 12, 1, 1, 31, 32});
  layout::scale(dst.data(), dst.size(), 0.5f);
  CHECK(dst == std::vector<float>{0.5f, 0.5f, 5.5f, 6, 0.5f, 0.5f, 15.5f, 16});
}

TEST_CASE("encoder layout: mean_over_time pools frames, its backward spreads the gradient evenly") {
  // x: [2 batch, 4 frames, 2 dim]
  const std::vector<double> x{1, -1, 2, -2, 3, -3, 6, -6,  //
                              0, 8, 0, 4, 0, 0, 0, 4};
  std::vector<double> pooled(4, 99.0);  // overwritten, not accumulated
  layout::mean_over_time(x.data(), pooled.data(), 2, 4, 2);
  CHECK(pooled == std::vector<double>{3, -3, 0, 4});
  const std::vector<double> dy{4, 8, -2, 1};
  std::vector<double> dx(16, 1.0);  // accumulated into
  layout::mean_over_time_backward(dy.data(), dx.data(), 2, 4, 2);
  CHECK(dx == std::vector<double>{2, 3, 2, 3, 2, 3, 2, 3, 0.5, 1.25, 0.5, 1.25, 0.5, 1.25, 0.5, 1.25});
}

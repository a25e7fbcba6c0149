// Compiled by the host compiler with THRUST_DEVICE_SYSTEM=CPP: the thrust logic of the CUDA
// backend, tested on machines without a GPU.
#include <ecgssl/cuda/flat_ops.cuh>

#include <doctest/doctest.h>

#include <vector>

static_assert(THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CPP);

TEST_CASE("sum_of_squares accumulates in double") {
  thrust::device_vector<float> v(std::vector<float>{1.f, 2.f, 3.f, 4.f});
  CHECK(ecgssl::flat_ops::sum_of_squares(v) == 30.0);
}

TEST_CASE("clip_by_global_norm rescales to the requested norm") {
  thrust::device_vector<double> g(std::vector<double>{3.0, 4.0});
  const double before = ecgssl::flat_ops::clip_by_global_norm(g, 1.0);
  CHECK(before == doctest::Approx(5.0));
  std::vector<double> after(g.begin(), g.end());
  CHECK(after[0] == doctest::Approx(0.6).epsilon(1e-6));
  CHECK(after[1] == doctest::Approx(0.8).epsilon(1e-6));
  // A norm already below the limit, or clipping disabled, leaves the values alone.
  thrust::device_vector<double> small(std::vector<double>{0.3, 0.4});
  ecgssl::flat_ops::clip_by_global_norm(small, 1.0);
  CHECK(small[0] == 0.3);
  ecgssl::flat_ops::clip_by_global_norm(g, 0.0);
  CHECK(static_cast<double>(g[1]) == doctest::Approx(0.8).epsilon(1e-6));
}

TEST_CASE("add_scaled is y += alpha x") {
  thrust::device_vector<float> x(std::vector<float>{1.f, -2.f});
  thrust::device_vector<float> y(std::vector<float>{10.f, 10.f});
  ecgssl::flat_ops::add_scaled(x, 0.5f, y);
  CHECK(y[0] == 10.5f);
  CHECK(y[1] == 9.f);
}

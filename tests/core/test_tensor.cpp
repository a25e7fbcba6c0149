#include <ecgssl/core/tensor.hpp>

#include <doctest/doctest.h>

TEST_CASE("as_matrix views the same memory, row-major") {
  ecgssl::tensor<float, 2> t = {{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}};
  auto m = ecgssl::as_matrix(t);
  CHECK(m.rows() == 2);
  CHECK(m.cols() == 3);
  CHECK(m(1, 0) == 4.f);
  m(0, 2) = 9.f;
  CHECK(t(0, 2) == 9.f);
  CHECK(m.data() == t.data());
}

TEST_CASE("as_matrix on a rank-3 tensor picks one leading slice") {
  ecgssl::tensor<double, 3> t = xt::zeros<double>({2, 2, 3});
  t(1, 0, 2) = 7.0;
  auto m = ecgssl::as_matrix(t, 1);
  CHECK(m(0, 2) == 7.0);
  // A product through Eigen lands in the xtensor storage.
  ecgssl::tensor<double, 2> a = {{1, 2}, {3, 4}};
  ecgssl::tensor<double, 2> out = xt::zeros<double>({2, 3});
  ecgssl::as_matrix(out).noalias() = ecgssl::as_matrix(a) * ecgssl::as_matrix(t, 1);
  CHECK(out(0, 2) == 7.0);
  CHECK(out(1, 2) == 21.0);
}

TEST_CASE("adapt wraps external memory without copying") {
  std::vector<float> buffer(6, 0.f);
  auto view = ecgssl::adapt(buffer.data(), std::array<std::size_t, 2>{2, 3});
  view(1, 1) = 3.f;
  CHECK(buffer[4] == 3.f);
}

TEST_CASE("require_shape reports both shapes") {
  ecgssl::tensor<float, 2> t = xt::zeros<float>({12, 2500});
  CHECK_NOTHROW(ecgssl::require_shape(t.shape(), std::array<std::size_t, 2>{12, 2500}, "x"));
  CHECK_THROWS_WITH_AS(ecgssl::require_shape(t.shape(), std::array<std::size_t, 2>{12, 5000}, "x"),
                       "shape error in field 'x': got shape [12, 2500] (expected [12, 5000])",
                       ecgssl::shape_error);
}

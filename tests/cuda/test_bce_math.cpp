// Compiled by the host compiler with THRUST_DEVICE_SYSTEM=CPP: the thrust math of
// bce_with_logits<T, cuda> against the host loss (itself checked against PyTorch and finite
// differences in tests/loss).
#include <ecgssl/cuda/detail/bce_math.cuh>
#include <ecgssl/loss/bce_with_logits.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include <ecgssl/core/philox.hpp>

namespace bce = ecgssl::cuda_detail::bce;

TEST_CASE_TEMPLATE("thrust BCE math equals the host bce_with_logits, loss and gradient", T, float, double) {
  const std::size_t batch = 5, classes = 7, n = batch * classes;
  const ecgssl::random_stream rng(3, 1);
  ecgssl::tensor<T, 2> x({batch, classes});
  ecgssl::tensor<T, 2> y({batch, classes});
  for (std::size_t i = 0; i < n; ++i) {
    x.data()[i] = static_cast<T>((rng.uniform(i) - 0.5) * 40.0);  // saturating logits included
    y.data()[i] = rng.uniform(n + i) < 0.3 ? T(1) : T(0);
  }
  y.data()[3] = T(0.25);  // a soft target: counted in the loss, not as a positive label
  ecgssl::bce_with_logits<T> host(ecgssl::bce_normalization::sum);
  host.set_targets(y);
  const T host_loss = host.forward(x);
  ecgssl::tensor<T, 2> host_grad({batch, classes});
  host_grad.fill(T(0.5));
  host.backward(T(2), host_grad);

  const double loss = bce::summed_loss(thrust::device, x.data(), y.data(), n);
  CHECK(loss == doctest::Approx(static_cast<double>(host_loss)).epsilon(std::is_same_v<T, float> ? 1e-6 : 1e-13));
  std::vector<T> s(n);
  bce::sigmoid(thrust::device, x.data(), s.data(), n);
  std::vector<T> grad(n, T(0.5));
  bce::accumulate_gradient(thrust::device, static_cast<const T*>(s.data()), y.data(), T(2), grad.data(), n);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(grad[i] == doctest::Approx(host_grad.data()[i]).epsilon(std::is_same_v<T, float> ? 1e-6 : 1e-14));
  }
  std::size_t positives = 0;
  for (std::size_t i = 0; i < n; ++i) positives += y.data()[i] == T(1);
  CHECK(bce::count_positive(thrust::device, y.data(), n) == positives);
}

TEST_CASE("thrust BCE math by hand: one logit of 0 with target 1 costs log 2, gradient -1/2") {
  const double x[1] = {0.0};
  const double y[1] = {1.0};
  CHECK(bce::summed_loss(thrust::device, x, y, 1) == doctest::Approx(std::log(2.0)).epsilon(1e-15));
  double s[1];
  bce::sigmoid(thrust::device, x, s, 1);
  double g[1] = {0.0};
  bce::accumulate_gradient(thrust::device, static_cast<const double*>(s), y, 1.0, g, 1);
  CHECK(g[0] == -0.5);
}

TEST_CASE("thrust BCE finds the first non-finite logit") {
  std::vector<float> x{0.f, 1.f, 2.f, 3.f};
  CHECK(bce::first_non_finite(thrust::device, x.data(), x.size()) == 4);
  x[2] = std::numeric_limits<float>::infinity();
  x[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK(bce::first_non_finite(thrust::device, x.data(), x.size()) == 2);
  x[2] = -std::numeric_limits<float>::infinity();
  CHECK(bce::first_non_finite(thrust::device, x.data(), x.size()) == 2);
}

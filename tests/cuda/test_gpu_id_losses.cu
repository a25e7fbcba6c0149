// The identification / fine-tuning losses on the cuda backend vs the same losses on the host
// (the oracle, itself checked against PyTorch fixtures and finite differences in tests/loss):
// nt_xent for both pairings, identities and both norm modes; arcface with W in a parameter
// store (device mirror) and bound to caller device memory. Same value and same input (and W)
// gradients; gradients are accumulated into non-zero buffers twice, so accumulation is
// exercised. Tolerances are relative to the largest magnitude of the host buffer.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/cuda/arcface.cuh>
#include <ecgssl/cuda/device_buffer.cuh>
#include <ecgssl/cuda/device_parameters.cuh>
#include <ecgssl/cuda/device_tensor.cuh>
#include <ecgssl/cuda/nt_xent.cuh>

#include "gpu_test_support.hpp"
#include "id_loss_cases.hpp"

namespace {

using ecgssl::device_tensor;
using ecgssl::tensor;
using gpu_test::relative_difference;
using gpu_test::tol;

template <class T, std::size_t N>
tensor<T, N> random_tensor(const std::array<std::size_t, N>& shape, std::uint64_t stream, double scale = 1.0) {
  return gpu_test::random_tensor<T, N>(616, shape, stream, scale);
}

// Loss values within loss_tol (relative), then backward twice on both losses from the same
// non-zero input gradient (random stream `stream`), the input gradients within grad_tol.
template <class T, class Host, class Device>
void check_value_and_input_gradient(Host& h, Device& d, T host_loss, T device_loss, T upstream, std::size_t rows,
                                    std::size_t dim, std::uint64_t stream, double loss_tol, double grad_tol) {
  CHECK(std::abs(static_cast<double>(device_loss) - host_loss) <= loss_tol * std::abs(static_cast<double>(host_loss)));
  auto hg = random_tensor<T, 2>({rows, dim}, stream);
  device_tensor<T, 2> dg(hg);
  for (int pass = 0; pass < 2; ++pass) {
    h.backward(upstream, hg);
    d.backward(upstream, dg);
  }
  const auto back = dg.to_host();
  CHECK(relative_difference(back.data(), hg.data(), hg.size()) <= grad_tol);
}

template <class T>
void check_nt_xent(std::size_t rows, std::size_t dim, const std::vector<std::int64_t>& identities,
                   ecgssl::nt_xent_options options, std::uint64_t seed) {
  CAPTURE(rows);
  CAPTURE(dim);
  CAPTURE(options.detach_norm);
  CAPTURE(static_cast<int>(options.pairing));
  auto z = random_tensor<T, 2>({rows, dim}, seed, 3.0);
  for (std::size_t c = 0; c < dim; ++c) z(1, c) = T(0);  // a zero row: the eps branch
  ecgssl::nt_xent<T, ecgssl::host> h(options);
  ecgssl::nt_xent<T, ecgssl::cuda> d(options);
  if (!identities.empty()) {
    h.set_identities(identities);
    d.set_identities(identities);
  }
  const T hl = h.forward(z);
  const device_tensor<T, 2> dz(z);
  const T dl = d.forward(dz);
  CHECK(d.positive_pairs() == h.positive_pairs());
  check_value_and_input_gradient(h, d, hl, dl, T(0.75), rows, dim, seed + 1, tol<T>(2e-5, 1e-12), tol<T>(5e-5, 1e-11));
}

// W [classes, dim] with row 0's class pointing away from it (the margin's fallback branch).
template <class T>
std::vector<T> class_weights(const tensor<T, 2>& x, std::size_t classes, const std::vector<std::int64_t>& labels,
                             std::uint64_t seed) {
  const std::size_t dim = x.shape()[1];
  const auto w_tensor = random_tensor<T, 2>({classes, dim}, seed);
  std::vector<T> w(w_tensor.begin(), w_tensor.end());
  for (std::size_t c = 0; c < dim; ++c) w[static_cast<std::size_t>(labels[0]) * dim + c] = -x(0, c) * T(0.9) + w[c] * T(0.1);
  return w;
}

template <class T>
void check_arcface(std::size_t batch, std::size_t classes, std::size_t dim, ecgssl::arcface_options options,
                   std::uint64_t seed) {
  CAPTURE(batch);
  CAPTURE(classes);
  CAPTURE(dim);
  CAPTURE(options.scale);
  CAPTURE(options.margin);
  auto x = random_tensor<T, 2>({batch, dim}, seed, 2.0);
  std::vector<std::int64_t> labels(batch);
  for (std::size_t b = 0; b < batch; ++b) labels[b] = static_cast<std::int64_t>((b * 5 + 1) % classes);
  const std::vector<T> w = class_weights(x, classes, labels, seed + 1);

  // Host: W in a store (gradient starting at 0, as the mirror's). Device (a): W in a store
  // mirrored on the device; (b): W and a non-zero gradient bound to device memory, against the
  // host loss bound to host copies of the same buffers.
  ecgssl::parameter_store<T> host_store, dev_store;
  ecgssl::arcface<T, ecgssl::host> h(classes, dim, options);
  ecgssl::arcface<T, ecgssl::cuda> d(classes, dim, options);
  h.declare_parameters(host_store, "arc.");
  d.declare_parameters(dev_store, "arc.");
  host_store.allocate();
  dev_store.allocate();
  std::copy(w.begin(), w.end(), host_store.values().begin());
  std::copy(w.begin(), w.end(), dev_store.values().begin());
  std::fill(host_store.grads().begin(), host_store.grads().end(), T(0));
  ecgssl::device_parameters<T> mirror(dev_store);
  h.set_targets(labels);
  d.set_targets(labels);
  const T hl = h.forward(x);
  const device_tensor<T, 2> dx(x);
  const T dl = d.forward(dx);
  const auto cos = d.cosines().to_host();
  CHECK(relative_difference(cos.data(), h.cosines().data(), cos.size()) <= tol<T>(2e-6, 1e-13));
  const auto probs = d.probabilities().to_host();
  CHECK(relative_difference(probs.data(), h.probabilities().data(), probs.size()) <= tol<T>(1e-4, 1e-10));
  check_value_and_input_gradient(h, d, hl, dl, T(0.5), batch, dim, seed + 3, tol<T>(5e-5, 1e-11), tol<T>(1e-4, 1e-10));
  mirror.download_grads(dev_store);
  CHECK(relative_difference(dev_store.grads().data(), host_store.grads().data(), dev_store.size()) <=
        tol<T>(1e-4, 1e-10));

  // (b) bound device memory.
  const auto w_grad0 = random_tensor<T, 2>({classes, dim}, seed + 4);
  std::vector<T> host_w_grad(w_grad0.begin(), w_grad0.end());
  ecgssl::device_buffer<T> dev_w{std::span<const T>(w)}, dev_w_grad{std::span<const T>(host_w_grad)};
  ecgssl::arcface<T, ecgssl::host> hb(classes, dim, options);
  ecgssl::arcface<T, ecgssl::cuda> db(classes, dim, options);
  hb.bind_weights(w, host_w_grad);
  db.bind_weights(std::span<const T>(dev_w.data(), dev_w.size()), std::span<T>(dev_w_grad.data(), dev_w_grad.size()));
  hb.set_targets(labels);
  db.set_targets(labels);
  const T hbl = hb.forward(x);
  const T dbl = db.forward(dx);
  check_value_and_input_gradient(hb, db, hbl, dbl, T(-1.25), batch, dim, seed + 5, tol<T>(5e-5, 1e-11),
                                 tol<T>(1e-4, 1e-10));
  std::vector<T> dev_w_grad_back(host_w_grad.size());
  dev_w_grad.copy_to_host(std::span<T>(dev_w_grad_back));
  CHECK(relative_difference(dev_w_grad_back.data(), host_w_grad.data(), host_w_grad.size()) <= tol<T>(1e-4, 1e-10));
}

template <class T>
void check_nt_xent_cases(bool large) {
  const auto check = [](std::size_t rows, std::size_t dim, const std::vector<std::int64_t>& ids,
                        const ecgssl::nt_xent_options& options, std::uint64_t seed) {
    check_nt_xent<T>(rows, dim, ids, options, seed);
  };
  if (large) {
    gpu_test::nt_xent_large_cases(check);
  } else {
    gpu_test::nt_xent_small_cases(check);
  }
}

}  // namespace

TEST_SUITE("with_device") {
  TEST_CASE_TEMPLATE("nt_xent on cuda matches the host loss, both pairings, identities, both norm modes", T, float,
                     double) {
    check_nt_xent_cases<T>(false);
  }

  TEST_CASE_TEMPLATE("nt_xent on cuda matches the host loss at a realistic size and past 256 lanes", T, float, double) {
    check_nt_xent_cases<T>(true);
  }

  TEST_CASE("nt_xent on cuda: the host's errors, deterministic results") {
    using cuda_nt = ecgssl::nt_xent<float, ecgssl::cuda>;
    ecgssl::nt_xent_options bad_tau;
    bad_tau.temperature = 0;
    CHECK_THROWS_AS(cuda_nt{bad_tau}, ecgssl::config_error);
    cuda_nt d;
    const device_tensor<float, 2> odd(random_tensor<float, 2>({5, 3}, 1));
    CHECK_THROWS_WITH_AS(d.forward(odd), doctest::Contains("even number"), ecgssl::shape_error);
    const std::vector<std::int64_t> three{1, 2, 3};
    d.set_identities(three);
    const device_tensor<float, 2> four(random_tensor<float, 2>({4, 3}, 2));
    CHECK_THROWS_AS(d.forward(four), ecgssl::shape_error);
    const std::vector<std::int64_t> distinct{1, 2, 3, 4};
    d.set_identities(distinct);
    CHECK_THROWS_WITH_AS(d.forward(four), doctest::Contains("no two rows"), ecgssl::data_error);
    d.clear_identities();
    const float first = d.forward(four);
    device_tensor<float, 2> g1(std::array<std::size_t, 2>{4, 3});
    g1.zero();
    d.backward(1.0f, g1);
    const float second = d.forward(four);
    device_tensor<float, 2> g2(std::array<std::size_t, 2>{4, 3});
    g2.zero();
    d.backward(1.0f, g2);
    CHECK(first == second);
    const auto a = g1.to_host(), b = g2.to_host();
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
    auto z = random_tensor<float, 2>({4, 3}, 2);
    z(2, 1) = std::numeric_limits<float>::quiet_NaN();
    const device_tensor<float, 2> with_nan(z);
    CHECK_THROWS_WITH_AS(d.forward(with_nan), doctest::Contains("flat index 7"), ecgssl::data_error);
  }

  TEST_CASE_TEMPLATE("arcface on cuda matches the host loss, W in a store and bound to device memory", T, float,
                     double) {
    gpu_test::arcface_cases([](std::size_t batch, std::size_t classes, std::size_t dim,
                               const ecgssl::arcface_options& options, std::uint64_t seed) {
      check_arcface<T>(batch, classes, dim, options, seed);
    });
  }

  TEST_CASE("arcface on cuda: the host's errors") {
    using cuda_arc = ecgssl::arcface<float, ecgssl::cuda>;
    CHECK_THROWS_AS(cuda_arc(0, 4), ecgssl::config_error);
    ecgssl::arcface_options bad;
    bad.margin = 4.0;
    CHECK_THROWS_AS(cuda_arc(3, 4, bad), ecgssl::config_error);
    cuda_arc d(3, 4);
    const std::vector<std::int64_t> bad_labels{0, 3};
    CHECK_THROWS_WITH_AS(d.set_targets(bad_labels), doctest::Contains("at row 1"), ecgssl::data_error);
    const std::vector<std::int64_t> labels{0, 2};
    d.set_targets(labels);
    const device_tensor<float, 2> x(random_tensor<float, 2>({2, 4}, 1));
    CHECK_THROWS_WITH_AS(d.forward(x), doctest::Contains("never provided"), ecgssl::config_error);
    ecgssl::device_buffer<float> w(12), small(11);
    CHECK_THROWS_AS(d.bind_weights(std::span<const float>(w.data(), 12), std::span<float>(small.data(), 11)),
                    ecgssl::shape_error);
    CHECK_THROWS_AS(d.initialize(1), ecgssl::config_error);
    const device_tensor<float, 2> three_rows(random_tensor<float, 2>({3, 4}, 2));
    CHECK_THROWS_AS(d.forward(three_rows), ecgssl::shape_error);
    // W declared in a store but no device mirror alive: the store's error.
    ecgssl::parameter_store<float> store;
    d.declare_parameters(store, "arc.");
    store.allocate();
    CHECK_THROWS_WITH_AS(d.forward(x), doctest::Contains("device mirror"), ecgssl::config_error);
  }
}  // TEST_SUITE with_device

// nn::gumbel_quantizer, feature_penalty and diversity_loss on cuda (spec §3.8, §4.2) against
// their host twins (the oracles, checked against PyTorch and finite differences in tests/nn and
// tests/loss). The quantizer's Gumbel noise is the same Philox draw on both backends, so the
// selected codes must be identical and q exact; perplexities and gradients agree to rounding.
// Gradients accumulate twice into non-zero buffers.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/device_parameters.cuh>
#include <ecgssl/cuda/device_tensor.cuh>
#include <ecgssl/cuda/diversity_loss.cuh>
#include <ecgssl/cuda/feature_penalty.cuh>
#include <ecgssl/cuda/gumbel_quantizer_kernels.cuh>
#include <ecgssl/cuda/linear_kernels.cuh>
#include <ecgssl/nn/gumbel_quantizer.hpp>

#include "gpu_test_support.hpp"

namespace {

using ecgssl::device_tensor;
using ecgssl::tensor;
using gpu_test::relative_difference;
using gpu_test::tol;

constexpr std::uint64_t seed = 97;

enum class mode { random_stream, injected_noise, evaluation };

template <class T>
void check_quantizer(const ecgssl::nn::gumbel_quantizer_options& o, std::size_t n, mode m) {
  CAPTURE(n);
  CAPTURE(o.codes);
  CAPTURE(static_cast<int>(m));
  ecgssl::nn::gumbel_quantizer<T, ecgssl::host> h(o);
  ecgssl::nn::gumbel_quantizer<T, ecgssl::cuda> d(o);
  ecgssl::parameter_store<T> hs;
  ecgssl::parameter_store<T> ds;
  gpu_test::declare_twins(h, d, hs, ds, "quantizer.", seed, 1.5);
  ecgssl::device_parameters<T> mirror(ds);
  h.set_num_updates(5000);
  d.set_num_updates(5000);
  const ecgssl::random_stream rng(seed, ecgssl::stream_id({4, 2}));
  if (m == mode::evaluation) {
    h.set_training(false);
    d.set_training(false);
  } else if (m == mode::random_stream) {
    h.set_random_stream(rng);
    d.set_random_stream(rng);
  } else {
    const auto noise = gpu_test::random_tensor<T, 2>(seed, {n, o.groups * o.codes}, 5, 3.0);
    h.set_gumbel_noise(noise);
    d.set_gumbel_noise(noise);
  }

  const auto x = gpu_test::random_tensor<T, 2>(seed, {n, o.input_dim}, 2);
  tensor<T, 2> hq;
  h.forward(x, hq);
  device_tensor<T, 2> dq_out;
  d.forward(device_tensor<T, 2>(x), dq_out);
  REQUIRE(d.codes() == h.codes());
  const auto q = dq_out.to_host();
  REQUIRE(q.shape() == hq.shape());
  for (std::size_t i = 0; i < q.size(); ++i) REQUIRE(q.data()[i] == hq.data()[i]);
  CHECK(d.temperature() == h.temperature());
  CHECK(std::abs(d.prob_perplexity() - h.prob_perplexity()) <= tol<T>(1e-5, 1e-12) * h.prob_perplexity());
  CHECK(d.code_perplexity() == doctest::Approx(h.code_perplexity()).epsilon(1e-14));  // counts of equal codes
  CHECK(relative_difference(d.logits().to_host().data(), h.logits().data(), h.logits().size()) <= tol<T>(1e-5, 1e-12));

  const auto g = gpu_test::random_tensor<T, 2>(seed, {n, o.vq_dim}, 3);
  auto hdx = gpu_test::random_tensor<T, 2>(seed, {n, o.input_dim}, 4);
  device_tensor<T, 2> ddx(hdx);
  const device_tensor<T, 2> dg(g);
  for (int pass = 0; pass < 2; ++pass) {
    h.backward(g, T(0.6), hdx);
    d.backward(dg, T(0.6), ddx);
  }
  const auto dx = ddx.to_host();
  CHECK(relative_difference(dx.data(), hdx.data(), hdx.size()) <= tol<T>(1e-4, 1e-10));
  mirror.download_grads(ds);
  for (const char* name : {"quantizer.vars", "quantizer.weight_proj.weight", "quantizer.weight_proj.bias"}) {
    CAPTURE(name);
    const auto dgrad = ds.grads(name);
    const auto hgrad = hs.grads(name);
    // vars: the same additions of the same dq in the same (position) order
    const double t = std::string(name) == "quantizer.vars" ? tol<T>(1e-6, 1e-15) : tol<T>(1e-4, 1e-10);
    CHECK(relative_difference(dgrad.data(), hgrad.data(), hgrad.size()) <= t);
  }
  double largest = 0;
  for (T v : hs.grads("quantizer.weight_proj.weight")) largest = std::max(largest, std::abs(static_cast<double>(v)));
  CHECK(largest > 1e-4);  // a real gradient reached weight_proj
}

}  // namespace

TEST_SUITE("with_device") {
  TEST_CASE_TEMPLATE("nn::gumbel_quantizer on cuda matches the host layer", T, float, double) {
    const ecgssl::nn::gumbel_quantizer_options o{.input_dim = 32, .groups = 2, .codes = 24, .vq_dim = 16};
    SUBCASE("training: Gumbel noise from the same random stream") { check_quantizer<T>(o, 40, mode::random_stream); }
    SUBCASE("training: injected noise") { check_quantizer<T>(o, 40, mode::injected_noise); }
    SUBCASE("evaluation: argmax codes, only the perplexity gradient") { check_quantizer<T>(o, 40, mode::evaluation); }
  }

  // float is left out at this size: a logit gap below float rounding among 320 codes would make
  // the backends pick different codes (both right), which is not what this test is about.
  TEST_CASE("nn::gumbel_quantizer on cuda matches the host layer at the spec's size (double)") {
    const ecgssl::nn::gumbel_quantizer_options o{.input_dim = 256, .groups = 2, .codes = 320, .vq_dim = 256};
    check_quantizer<double>(o, 96, mode::random_stream);
  }

  TEST_CASE_TEMPLATE("feature_penalty on cuda matches the host loss", T, float, double) {
    const auto z = gpu_test::random_tensor<T, 3>(seed, {3, 16, 50}, 11, 2.0);
    ecgssl::feature_penalty<T, ecgssl::host> h;
    ecgssl::feature_penalty<T, ecgssl::cuda> d;
    const T hl = h.forward(z);
    const T dl = d.forward(device_tensor<T, 3>(z));
    CHECK(std::abs(static_cast<double>(dl) - hl) <= tol<T>(1e-6, 1e-13) * std::abs(static_cast<double>(hl)));
    auto hg = gpu_test::random_tensor<T, 3>(seed, {3, 16, 50}, 12);
    device_tensor<T, 3> dg(hg);
    for (int pass = 0; pass < 2; ++pass) {
      h.backward(T(1.25), hg);
      d.backward(T(1.25), dg);
    }
    CHECK(relative_difference(dg.to_host().data(), hg.data(), hg.size()) <= tol<T>(1e-6, 1e-14));
    device_tensor<T, 3> wrong(std::array<std::size_t, 3>{3, 16, 49});
    CHECK_THROWS_AS(d.backward(T(1), wrong), ecgssl::shape_error);
  }

  TEST_CASE_TEMPLATE("diversity_loss on cuda matches the host loss", T, float, double) {
    for (const auto& [positions, groups, vars] :
         {std::array<std::size_t, 3>{9, 2, 5}, std::array<std::size_t, 3>{300, 2, 320}}) {
      CAPTURE(positions);
      CAPTURE(vars);
      const auto logits = gpu_test::random_tensor<T, 2>(seed, {positions, groups * vars}, 13, 4.0);
      ecgssl::diversity_loss<T, ecgssl::host> h({.groups = groups, .vars = vars});
      ecgssl::diversity_loss<T, ecgssl::cuda> d({.groups = groups, .vars = vars});
      const T hl = h.forward(logits);
      const T dl = d.forward(device_tensor<T, 2>(logits));
      CHECK(std::abs(static_cast<double>(dl) - hl) <= tol<T>(1e-5, 1e-12) * std::max(1e-3, std::abs(static_cast<double>(hl))));
      CHECK(std::abs(static_cast<double>(d.prob_perplexity()) - h.prob_perplexity()) <=
            tol<T>(1e-5, 1e-12) * static_cast<double>(h.prob_perplexity()));
      CHECK(relative_difference(d.mean_probabilities().data(), h.mean_probabilities().data(), groups * vars) <=
            tol<T>(1e-6, 1e-14));
      auto hg = gpu_test::random_tensor<T, 2>(seed, {positions, groups * vars}, 14);
      device_tensor<T, 2> dg(hg);
      for (int pass = 0; pass < 2; ++pass) {
        h.backward(T(0.8), hg);
        d.backward(T(0.8), dg);
      }
      CHECK(relative_difference(dg.to_host().data(), hg.data(), hg.size()) <= tol<T>(2e-5, 1e-12));
    }
    auto bad = gpu_test::random_tensor<T, 2>(seed, {3, 10}, 15);
    bad.data()[7] = std::numeric_limits<T>::quiet_NaN();
    ecgssl::diversity_loss<T, ecgssl::cuda> d({.groups = 2, .vars = 5});
    CHECK_THROWS_AS(d.forward(device_tensor<T, 2>(bad)), ecgssl::data_error);
  }
}  // TEST_SUITE with_device

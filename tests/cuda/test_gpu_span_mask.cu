// nn::span_mask on cuda (spec §3.5) against the host layer: the mask is drawn on the host for
// both, so masked frames, outputs and gradients (input and mask embedding) must agree.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/device_parameters.cuh>
#include <ecgssl/cuda/device_tensor.cuh>
#include <ecgssl/cuda/span_mask_kernels.cuh>
#include <ecgssl/nn/span_mask.hpp>

namespace {

using ecgssl::device_tensor;
using ecgssl::tensor;

template <class T>
tensor<T, 3> random_frames(std::size_t batch, std::size_t time, std::size_t dim, std::uint64_t stream) {
  const ecgssl::random_stream rng(41, stream);
  tensor<T, 3> t({batch, time, dim});
  for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(2.0 * rng.uniform(i) - 1.0);
  return t;
}

// Forward, then backward twice into an input gradient that starts non-zero; y, dx and
// d mask_emb must equal the host's exactly (copies and sums in the same order).
template <class T>
void check_span_mask(ecgssl::nn::span_mask<T, ecgssl::host>& h, ecgssl::nn::span_mask<T, ecgssl::cuda>& d,
                     std::size_t batch, std::size_t time, std::size_t dim) {
  ecgssl::parameter_store<T> hs;
  ecgssl::parameter_store<T> ds;
  h.declare_parameters(hs, "");
  d.declare_parameters(ds, "");
  hs.allocate();
  ds.allocate();
  for (std::size_t i = 0; i < hs.size(); ++i) hs.values()[i] = ds.values()[i] = static_cast<T>(0.25 + 0.01 * i);
  ecgssl::device_parameters<T> mirror(ds);

  const auto x = random_frames<T>(batch, time, dim, 1);
  tensor<T, 3> hy;
  h.forward(x, hy);
  device_tensor<T, 3> dy_out;
  d.forward(device_tensor<T, 3>(x), dy_out);
  CHECK(d.mask() == h.mask());
  const auto y = dy_out.to_host();
  for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y.data()[i] == hy.data()[i]);

  const auto g = random_frames<T>(batch, time, dim, 2);
  auto hdx = random_frames<T>(batch, time, dim, 3);
  device_tensor<T, 3> ddx(hdx);
  const device_tensor<T, 3> dg(g);
  for (int pass = 0; pass < 2; ++pass) {
    h.backward(g, hdx);
    d.backward(dg, ddx);
  }
  const auto dx = ddx.to_host();
  for (std::size_t i = 0; i < dx.size(); ++i) REQUIRE(dx.data()[i] == hdx.data()[i]);
  mirror.download_grads(ds);
  for (std::size_t i = 0; i < hs.size(); ++i) {
    // The device sums each feature's masked rows in the host's order; only a fused multiply-add
    // could tell them apart.
    CHECK(std::abs(static_cast<double>(ds.grads()[i]) - hs.grads()[i]) <=
          1e-6 * std::max(1.0, std::abs(static_cast<double>(hs.grads()[i]))));
  }
}

}  // namespace

TEST_SUITE("with_device") {
  TEST_CASE_TEMPLATE("nn::span_mask on cuda matches the host layer", T, float, double) {
    const ecgssl::nn::span_mask_options o{.dim = 24, .mask_prob = 0.65, .mask_length = 3, .min_masks = 2};
    ecgssl::nn::span_mask<T, ecgssl::host> h(o);
    ecgssl::nn::span_mask<T, ecgssl::cuda> d(o);
    SUBCASE("training: the mask drawn from the same stream") {
      const ecgssl::random_stream rng(7, ecgssl::stream_id({1, 4}));
      h.set_random_stream(rng);
      d.set_random_stream(rng);
      check_span_mask<T>(h, d, 3, 40, 24);
      std::size_t masked = 0;
      for (auto m : h.mask()) masked += m;
      CHECK(masked > 0);
    }
    SUBCASE("training: an injected mask") {
      tensor<std::uint8_t, 2> mask({2, 9});
      mask.fill(0);
      mask(0, 0) = mask(0, 8) = mask(1, 3) = mask(1, 4) = 1;
      h.set_mask(mask);
      d.set_mask(mask);
      check_span_mask<T>(h, d, 2, 9, 24);
    }
    SUBCASE("evaluation: nothing masked, the gradient passes through") {
      h.set_training(false);
      d.set_training(false);
      check_span_mask<T>(h, d, 2, 5, 24);
    }
  }
}  // TEST_SUITE with_device

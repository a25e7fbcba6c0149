// The tiny encoder in bf16 mode (core/precision.hpp) against the float32 path on real records:
// the transformer output and every parameter's gradient.
//
// Tolerance, derived. A product of length k in bf16 mode errs against float32 by
// sum_p a_p b_p (d_a,p + d_b,p) with |d| <= u = 2^-8; for rounding errors that behave as
// independent and uniform in [-u, u] (random mantissas), each d has rms u / sqrt(3), so a dot
// product's relative rms error is about sqrt(2/3) u = 0.0032 (when its terms do not cancel). The
// tiny encoder chains D ~ 20 products on its longest path (4 convolutions, pos conv, 2 layers x
// [q/k/v, scores, values, out-proj, fc1, fc2]); with gains near 1 (layer norms renormalise)
// independent errors add in quadrature: sqrt(20) x 0.0032 = 0.014 rms, relative to the output's
// norm. The checks allow 4x that estimate: 0.06 for the output, and 0.08 for the gradient, whose
// path is twice as long (sqrt(2) x 0.014 x 4). Measured when written, on the bundled records:
// output 0.0059, gradient 0.0066, the worst single tensor 0.012. The lower bound 2^-12 shows that
// the products were rounded at all.
#include <ecgssl/core/precision.hpp>
#include <ecgssl/core/threading.hpp>
#include <ecgssl/data/wfdb_dataset.hpp>
#include <ecgssl/model/ecg_transformer.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using tiny = ecgssl::model::tiny_config<float>;

double relative_difference(const float* a, const float* b, std::size_t n) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < n; ++i) {
    diff += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
    norm += double(b[i]) * double(b[i]);
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

}  // namespace

TEST_CASE("tiny encoder in bf16 mode: output and every gradient within the derived tolerance of float32") {
  ecgssl::set_threads(1);
  const ecgssl::data::wfdb_dataset data(std::filesystem::path(ECGSSL_TEST_DATA_DIR) / "records" / "challenge");
  auto options = tiny::options();
  options.pretraining_heads = false;
  options.apply_mask = false;
  ecgssl::parameter_store<float> store;
  ecgssl::model::ecg_transformer<tiny> encoder(options);
  encoder.declare_parameters(store);
  store.allocate();
  encoder.initialize(ecgssl::random_stream(5, 1));
  encoder.set_training(false);
  // Three real 5 s segments of different records, 12 leads at 500 Hz.
  ecgssl::tensor<float, 3> x = ecgssl::tensor<float, 3>::from_shape({3, 12, 2500});
  for (std::size_t s = 0; s < 3; ++s) {
    ecgssl::tensor<float, 2> one;
    ecgssl::data::segment_meta meta;
    data.pairs()->read(2 * s, 0, one, meta);
    std::copy(one.data(), one.data() + one.size(), x.data() + s * one.size());
  }
  auto run = [&](ecgssl::precision mode, std::vector<float>& encoded, std::vector<float>& grads) {
    const ecgssl::precision_scope scope(mode);
    store.zero_grad();
    const auto& out = encoder.forward(x);
    encoded.assign(out.encoded.data(), out.encoded.data() + out.encoded.size());
    // Objective: a fixed weighting of the output, so every parameter gets a gradient.
    ecgssl::model::ecg_transformer<tiny>::gradients g;
    g.encoded = ecgssl::tensor<float, 3>::from_shape({out.encoded.shape()[0], out.encoded.shape()[1], out.encoded.shape()[2]});
    const ecgssl::random_stream rng(9, 3);
    for (std::size_t i = 0; i < g.encoded.size(); ++i) g.encoded.data()[i] = static_cast<float>(rng.normal(i));
    encoder.backward(g);
    grads.assign(store.grads().begin(), store.grads().end());
  };
  std::vector<float> y32, ybf, g32, gbf;
  run(ecgssl::precision::fp32, y32, g32);
  run(ecgssl::precision::bf16, ybf, gbf);
  const double forward = relative_difference(ybf.data(), y32.data(), y32.size());
  const double backward = relative_difference(gbf.data(), g32.data(), g32.size());
  MESSAGE("bf16 vs fp32, relative norm of the difference: output " << forward << ", gradient " << backward);
  CHECK(forward < 0.06);
  CHECK(forward > 0x1p-12);
  CHECK(backward < 0.08);
  CHECK(backward > 0x1p-12);
  for (float v : ybf) REQUIRE(std::isfinite(v));
  for (float v : gbf) REQUIRE(std::isfinite(v));
  // Per tensor, so one badly rounded layer cannot hide in the total (0.1: the path of any one
  // tensor is at most the gradient's path). k_proj's bias gets no gradient in exact arithmetic
  // (the softmax is invariant to adding one vector to every key), so its float32 gradient is
  // rounding noise (~1e-7) and relative differences mean nothing: there the difference is held
  // against the query bias of the same layer, whose gradient is made of the same terms.
  auto norm_of = [&](const std::vector<float>& g, const std::string& name) {
    const auto* e = store.find(name);
    REQUIRE(e != nullptr);
    double n = 0;
    for (std::size_t i = 0; i < e->size; ++i) n += double(g[e->offset + i]) * g[e->offset + i];
    return std::sqrt(n);
  };
  for (const auto& e : store.entries()) {
    CAPTURE(e.name);
    const auto k_bias = e.name.rfind("k_proj.bias");
    if (k_bias != std::string::npos && k_bias + 11 == e.name.size()) {
      double diff = 0;
      for (std::size_t i = 0; i < e.size; ++i) diff += std::pow(double(gbf[e.offset + i]) - g32[e.offset + i], 2);
      const std::string q_bias = e.name.substr(0, k_bias) + "q_proj.bias";
      CHECK(std::sqrt(diff) < 0.01 * norm_of(g32, q_bias));
      continue;
    }
    CHECK(relative_difference(gbf.data() + e.offset, g32.data() + e.offset, e.size) < 0.1);
  }
}

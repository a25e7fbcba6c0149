#include <ecgssl/core/concepts.hpp>
#include <ecgssl/loss/arcface.hpp>

#include <doctest/doctest.h>

#include <numbers>

#include "loss_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

static_assert(loss_function<arcface<float>>);
static_assert(loss_function<arcface<double>>);

namespace {
struct arcface_case {
  const char* tag;
  double scale;
  double margin;
};
}  // namespace

TEST_CASE("arcface matches PyTorch on both sides of the cos(pi - m) fallback") {
  const auto x = load_tensor<double, 2>("arcface_embeddings");
  auto weight = load_tensor<double, 2>("arcface_weight");
  const auto labels = load_ids("arcface_labels");
  for (auto c : {arcface_case{"s192", 192.0, 1.0}, arcface_case{"s8", 8.0, 0.5}}) {
    CAPTURE(c.tag);
    const std::string prefix = std::string("arcface_") + c.tag + "_";
    // The fixture has targets above and below the threshold.
    const auto cos = load_tensor<double, 2>(prefix + "cos");
    int below = 0, above = 0;
    const double threshold = std::cos(std::numbers::pi - c.margin);
    for (std::size_t b = 0; b < labels.size(); ++b) (cos(b, labels[b]) > threshold ? above : below)++;
    CHECK(below >= 2);
    CHECK(above >= 2);

    arcface<double> loss(weight.shape()[0], weight.shape()[1], {c.scale, c.margin});
    tensor<double, 2> weight_grad = xt::zeros<double>(weight.shape());
    loss.bind_weights(as_span(std::as_const(weight)), as_span(weight_grad));
    loss.set_targets(labels);
    CHECK(relative(loss.forward(x), load_scalar(prefix + "loss")) < 1e-12);
    CHECK(scaled_difference(loss.cosines(), cos) < 1e-12);
    tensor<double, 2> grad = xt::zeros<double>(x.shape());
    loss.backward(1.0, grad);
    CHECK(scaled_difference(grad, load_tensor<double, 2>(prefix + "grad_embeddings")) < 1e-10);
    CHECK(scaled_difference(weight_grad, load_tensor<double, 2>(prefix + "grad_weight")) < 1e-10);

    // float, through a parameter store.
    parameter_store<float> store;
    arcface<float> single(weight.shape()[0], weight.shape()[1], {c.scale, c.margin});
    single.declare_parameters(store, "head.");
    store.allocate();
    const auto wf = load_tensor<float, 2>("arcface_weight");
    std::copy(wf.begin(), wf.end(), store.values("head.weight").begin());
    single.set_targets(labels);
    CHECK(relative(single.forward(load_tensor<float, 2>("arcface_embeddings")), load_scalar(prefix + "loss")) < 1e-5);
    tensor<float, 2> grad_f = xt::zeros<float>(x.shape());
    single.backward(1.0f, grad_f);
    CHECK(scaled_difference(grad_f, load_tensor<double, 2>(prefix + "grad_embeddings")) < 1e-4);
    auto gw = store.grads("head.weight");
    const auto ref_gw = load_tensor<double, 2>(prefix + "grad_weight");
    tensor<float, 2> gw_t = xt::zeros<float>(ref_gw.shape());
    std::copy(gw.begin(), gw.end(), gw_t.begin());
    CHECK(scaled_difference(gw_t, ref_gw) < 1e-4);
  }
}

TEST_CASE("arcface gradients match finite differences on both branches") {
  auto x = load_tensor<double, 2>("arcface_embeddings");
  auto weight = load_tensor<double, 2>("arcface_weight");
  const auto labels = load_ids("arcface_labels");
  for (auto c : {arcface_case{"s192", 192.0, 1.0}, arcface_case{"s8", 8.0, 0.5}}) {
    CAPTURE(c.tag);
    arcface<double> loss(weight.shape()[0], weight.shape()[1], {c.scale, c.margin});
    tensor<double, 2> weight_grad = xt::zeros<double>(weight.shape());
    loss.bind_weights(as_span(std::as_const(weight)), as_span(weight_grad));
    loss.set_targets(labels);
    loss.forward(x);
    tensor<double, 2> grad = xt::zeros<double>(x.shape());
    loss.backward(1.0, grad);
    auto f = [&] { return loss.forward(x); };
    // s = 192 makes the loss large (~257) and some gradients tiny (~1e-7): a step of 1e-5 and an
    // absolute floor of 1e-3 (gradients reach ~20) keep rounding out of the comparison.
    CHECK(check_gradient(as_span(x), as_span(std::as_const(grad)), f, "embeddings", 1e-5, 1e-3).max_relative_error < 1e-5);
    CHECK(check_gradient(as_span(weight), as_span(std::as_const(weight_grad)), f, "weight", 1e-5, 1e-3).max_relative_error < 1e-5);
  }
}

TEST_CASE("arcface on one sample follows the formula by hand") {
  // dim 2, two classes: x at angle 0, class 0 at angle 0.3, class 1 at angle 2.0.
  tensor<double, 2> x = {{2.0, 0.0}};
  tensor<double, 2> w = {{std::cos(0.3), std::sin(0.3)}, {3 * std::cos(2.0), 3 * std::sin(2.0)}};
  tensor<double, 2> gw = xt::zeros<double>({2, 2});
  arcface<double> loss(2, 2, {4.0, 0.5});
  loss.bind_weights(as_span(std::as_const(w)), as_span(gw));
  const std::vector<std::int64_t> target{0};
  loss.set_targets(target);
  const double z0 = 4.0 * std::cos(0.3 + 0.5);
  const double z1 = 4.0 * std::cos(2.0);
  CHECK(loss.forward(x) == doctest::Approx(std::log(std::exp(z0) + std::exp(z1)) - z0).epsilon(1e-12));
  // Target 1: cos(2.0) = -0.416 > cos(pi - 0.5) = -0.878, margin branch: cos(2.5).
  const std::vector<std::int64_t> target1{1};
  loss.set_targets(target1);
  const double y0 = 4.0 * std::cos(0.3);
  const double y1 = 4.0 * std::cos(2.5);
  CHECK(loss.forward(x) == doctest::Approx(std::log(std::exp(y0) + std::exp(y1)) - y1).epsilon(1e-12));
  // Class 1 at angle 2.8: cos = -0.942 <= -0.878, fallback cos - m sin(m).
  w(1, 0) = std::cos(2.8);
  w(1, 1) = std::sin(2.8);
  const double f1 = 4.0 * (std::cos(2.8) - 0.5 * std::sin(0.5));
  CHECK(loss.forward(x) == doctest::Approx(std::log(std::exp(y0) + std::exp(f1)) - f1).epsilon(1e-12));
}

TEST_CASE("arcface initialises W as the reference: uniform rows renormed to unit norm") {
  parameter_store<double> store;
  arcface<double> loss(50, 16);
  loss.declare_parameters(store, "head.");
  store.allocate();
  loss.initialize(5);
  auto w = store.values("head.weight");
  double lo = 1, hi = -1;
  for (std::size_t c = 0; c < 50; ++c) {
    double sq = 0;
    for (std::size_t d = 0; d < 16; ++d) sq += w[c * 16 + d] * w[c * 16 + d];
    // 1e5·1e-5·norm/(norm+1e-7): unit up to 1e-7/norm.
    CHECK(std::sqrt(sq) == doctest::Approx(1.0).epsilon(1e-6));
    for (std::size_t d = 0; d < 16; ++d) {
      lo = std::min(lo, w[c * 16 + d]);
      hi = std::max(hi, w[c * 16 + d]);
    }
  }
  CHECK(lo < 0.0);
  CHECK(hi > 0.0);
  // Deterministic in the seed, the same through the static form; a bound W must use that.
  std::vector<double> own(50 * 16);
  arcface<double>::initialize_weights(own, 50, 16, 5);
  CHECK(std::equal(own.begin(), own.end(), w.begin()));
  arcface<double> bound(2, 2);
  CHECK_THROWS_AS(bound.initialize(1), config_error);
  CHECK_THROWS_AS(arcface<double>::initialize_weights(own, 2, 2, 1), shape_error);
}

TEST_CASE("arcface rejects bad labels, shapes and missing weights") {
  arcface<double> loss(3, 2);
  const std::vector<std::int64_t> bad{3};
  CHECK_THROWS_AS(loss.set_targets(bad), data_error);
  const std::vector<std::int64_t> good{1};
  loss.set_targets(good);
  tensor<double, 2> x = {{1.0, 0.0}};
  CHECK_THROWS_AS(loss.forward(x), config_error);
  std::vector<double> w(5), gw(5);
  CHECK_THROWS_AS(loss.bind_weights(w, gw), shape_error);
  CHECK_THROWS_AS(arcface<double>(0, 2), config_error);
}

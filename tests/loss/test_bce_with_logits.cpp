#include <ecgssl/core/concepts.hpp>
#include <ecgssl/loss/bce_with_logits.hpp>

#include <doctest/doctest.h>

#include "loss_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

static_assert(loss_function<bce_with_logits<float>>);
static_assert(loss_function<bce_with_logits<double>>);

TEST_CASE("bce_with_logits matches hand-computed values") {
  bce_with_logits<double> loss(bce_normalization::sum);
  tensor<double, 2> logits = {{0.0, 2.0}};
  tensor<double, 2> targets = {{1.0, 0.0}};
  loss.set_targets(targets);
  // log(2) + log(1 + e^2)
  CHECK(loss.forward(logits) == doctest::Approx(std::log(2.0) + std::log1p(std::exp(2.0))).epsilon(1e-14));
  tensor<double, 2> grad = xt::zeros<double>({1, 2});
  loss.backward(2.0, grad);
  CHECK(grad(0, 0) == doctest::Approx(2.0 * (0.5 - 1.0)));
  CHECK(grad(0, 1) == doctest::Approx(2.0 / (1.0 + std::exp(-2.0))));
  // Extreme logits stay finite.
  tensor<double, 2> extreme = {{-800.0, 800.0}};
  CHECK(loss.forward(extreme) == doctest::Approx(1600.0));
}

TEST_CASE("bce_with_logits matches PyTorch with both normalisations") {
  const auto logits = load_tensor<double, 2>("bce_logits");
  const auto targets = load_tensor<double, 2>("bce_targets");
  for (auto [mode, tag] : {std::pair{bce_normalization::positive_labels, "positive"}, std::pair{bce_normalization::mean, "mean"}}) {
    bce_with_logits<double> loss(mode);
    loss.set_targets(targets);
    CHECK(relative(loss.forward(logits), load_scalar(std::string("bce_") + tag + "_loss")) < 1e-12);
    tensor<double, 2> grad = xt::zeros<double>(logits.shape());
    loss.backward(1.0, grad);
    CHECK(scaled_difference(grad, load_tensor<double, 2>(std::string("bce_") + tag + "_grad")) < 1e-12);
    // float: the same fixture to 1e-5.
    bce_with_logits<float> single(mode);
    single.set_targets(load_tensor<float, 2>("bce_targets"));
    const auto logits_f = load_tensor<float, 2>("bce_logits");
    CHECK(relative(single.forward(logits_f), load_scalar(std::string("bce_") + tag + "_loss")) < 1e-5);
    tensor<float, 2> grad_f = xt::zeros<float>(logits_f.shape());
    single.backward(1.0f, grad_f);
    CHECK(scaled_difference(grad_f, load_tensor<double, 2>(std::string("bce_") + tag + "_grad")) < 1e-5);
  }
}

TEST_CASE("bce_with_logits reference normalisation counts positive labels") {
  bce_with_logits<double> loss;
  tensor<double, 2> targets = {{1, 0, 1}, {0, 0, 1}};
  loss.set_targets(targets);
  tensor<double, 2> logits = xt::zeros<double>({2, 3});
  CHECK(loss.forward(logits) == doctest::Approx(6.0 * std::log(2.0) / 3.0));
  CHECK(loss.positive_labels() == 3);
  tensor<double, 2> none = xt::zeros<double>({2, 3});
  loss.set_targets(none);
  CHECK(loss.forward(logits) == doctest::Approx(6.0 * std::log(2.0)));  // divided by 1
}

TEST_CASE("bce_with_logits gradient matches finite differences") {
  auto logits = load_tensor<double, 2>("bce_logits");
  bce_with_logits<double> loss;
  loss.set_targets(load_tensor<double, 2>("bce_targets"));
  loss.forward(logits);
  tensor<double, 2> grad = xt::zeros<double>(logits.shape());
  loss.backward(1.0, grad);
  const auto report = check_gradient(as_span(logits), as_span(std::as_const(grad)), [&] { return loss.forward(logits); }, "logits");
  CHECK(report.max_relative_error < 1e-5);
}

TEST_CASE("bce_with_logits rejects bad targets and shapes") {
  bce_with_logits<double> loss;
  tensor<double, 2> bad = {{0.5, 2.0}};
  CHECK_THROWS_AS(loss.set_targets(bad), data_error);
  tensor<double, 2> targets = {{1.0, 0.0}};
  loss.set_targets(targets);
  tensor<double, 2> logits = xt::zeros<double>({2, 2});
  CHECK_THROWS_AS(loss.forward(logits), shape_error);
  tensor<double, 2> no_targets = xt::zeros<double>({0, 2});
  bce_with_logits<double> empty;
  empty.set_targets(no_targets);
  CHECK_THROWS_AS(empty.forward(no_targets), shape_error);
  tensor<double, 2> nan_logits = {{std::nan(""), 0.0}};
  CHECK_THROWS_AS(loss.forward(nan_logits), data_error);
}

#include <ecgssl/core/concepts.hpp>
#include <ecgssl/loss/combined_loss.hpp>

#include <doctest/doctest.h>

#include "loss_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

static_assert(loss_function<combined_loss<float>>);
static_assert(loss_function<combined_loss<double>>);

namespace {
template <class T>
combined_input<T> fixture_input() {
  return {{load_tensor<T, 3>("combined_c"), load_tensor<T, 3>("combined_q")},
          load_tensor<T, 2>("combined_logits"),
          load_tensor<T, 3>("combined_z"),
          load_tensor<T, 3>("combined_x")};
}
template <class T>
combined_input<T> zeros_like(const combined_input<T>& in) {
  return {{xt::zeros<T>(in.contrastive.predictions.shape()), xt::zeros<T>(in.contrastive.targets.shape())},
          xt::zeros<T>(in.quantizer_logits.shape()),
          xt::zeros<T>(in.features.shape()),
          xt::zeros<T>(in.encoder_output.shape())};
}
template <class T>
combined_loss<T> fixture_loss(bool normalize = true) {
  combined_loss_options options;
  options.contrastive.num_negatives = 4;
  options.diversity = {2, 3};
  options.normalize_by_sample_size = normalize;
  combined_loss<T> loss(options);
  loss.set_targets(load_ids("combined_records"), load_ids("combined_segments"));
  loss.contrastive().set_negatives(load_tensor<std::int64_t, 3>("combined_negatives"));
  return loss;
}
}  // namespace

TEST_CASE("combined_loss matches PyTorch: W2V + N_m (0.1 diversity + 10 penalty + CMSC), over N_m") {
  auto loss = fixture_loss<double>();
  const auto in = fixture_input<double>();
  CHECK(relative(loss.forward(in), load_scalar("combined_loss")) < 1e-12);
  CHECK(loss.sample_size() == 20);
  auto grad = zeros_like(in);
  loss.backward(1.0, grad);
  CHECK(scaled_difference(grad.contrastive.predictions, load_tensor<double, 3>("combined_grad_c")) < 1e-10);
  CHECK(scaled_difference(grad.contrastive.targets, load_tensor<double, 3>("combined_grad_q")) < 1e-10);
  CHECK(scaled_difference(grad.quantizer_logits, load_tensor<double, 2>("combined_grad_logits")) < 1e-10);
  CHECK(scaled_difference(grad.features, load_tensor<double, 3>("combined_grad_z")) < 1e-10);
  CHECK(scaled_difference(grad.encoder_output, load_tensor<double, 3>("combined_grad_x")) < 1e-10);

  auto single = fixture_loss<float>();
  const auto in_f = fixture_input<float>();
  CHECK(relative(single.forward(in_f), load_scalar("combined_loss")) < 1e-5);
  auto grad_f = zeros_like(in_f);
  single.backward(1.0f, grad_f);
  CHECK(scaled_difference(grad_f.encoder_output, load_tensor<double, 3>("combined_grad_x")) < 1e-5);
  CHECK(scaled_difference(grad_f.contrastive.predictions, load_tensor<double, 3>("combined_grad_c")) < 1e-5);
}

TEST_CASE("combined_loss un-normalised returns loss_sum for accumulation across micro-batches") {
  auto normalised = fixture_loss<double>(true);
  auto summed = fixture_loss<double>(false);
  const auto in = fixture_input<double>();
  const double mean = normalised.forward(in);
  CHECK(summed.forward(in) == doctest::Approx(20.0 * mean).epsilon(1e-13));
  // The terms are reported unweighted.
  CHECK(summed.forward(in) == doctest::Approx(summed.contrastive_value() +
                                              20.0 * (0.1 * summed.diversity_value() + 10.0 * summed.feature_penalty_value() +
                                                      summed.cmsc_value()))
                                  .epsilon(1e-13));
  auto g1 = zeros_like(in);
  auto g2 = zeros_like(in);
  normalised.backward(1.0, g1);
  summed.backward(1.0 / 20.0, g2);
  CHECK(scaled_difference(g2.encoder_output, g1.encoder_output) < 1e-14);
  CHECK(scaled_difference(g2.quantizer_logits, g1.quantizer_logits) < 1e-14);
}

TEST_CASE("combined_loss gradient matches finite differences") {
  auto loss = fixture_loss<double>();
  auto in = fixture_input<double>();
  loss.forward(in);
  auto grad = zeros_like(in);
  loss.backward(1.0, grad);
  auto f = [&] { return loss.forward(in); };
  // The loss is O(10) while some gradients are O(1e-4): step 1e-5 and an absolute floor of 1e-4
  // keep rounding out of the comparison.
  CHECK(check_gradient(as_span(in.contrastive.predictions), as_span(std::as_const(grad.contrastive.predictions)), f, "c", 1e-5, 1e-4).max_relative_error < 1e-5);
  CHECK(check_gradient(as_span(in.contrastive.targets), as_span(std::as_const(grad.contrastive.targets)), f, "q", 1e-5, 1e-4).max_relative_error < 1e-5);
  CHECK(check_gradient(as_span(in.quantizer_logits), as_span(std::as_const(grad.quantizer_logits)), f, "logits", 1e-5, 1e-4).max_relative_error < 1e-5);
  CHECK(check_gradient(as_span(in.features), as_span(std::as_const(grad.features)), f, "z", 1e-5, 1e-4).max_relative_error < 1e-5);
}

TEST_CASE("combined_loss with zero CMSC weight is W2V alone and needs no encoder output") {
  combined_loss_options options;
  options.contrastive.num_negatives = 4;
  options.diversity = {2, 3};
  options.cmsc_weight = 0.0;
  combined_loss<double> loss(options);
  loss.contrastive().set_negatives(load_tensor<std::int64_t, 3>("combined_negatives"));
  auto in = fixture_input<double>();
  in.encoder_output = tensor<double, 3>();
  const double value = loss.forward(in);
  CHECK(value == doctest::Approx(loss.contrastive_value() / 20.0 + 0.1 * loss.diversity_value() + 10.0 * loss.feature_penalty_value()));
  combined_loss_options bad;
  bad.cmsc_weight = -1;
  CHECK_THROWS_AS(combined_loss<double>{bad}, config_error);
}

#include <ecgssl/core/concepts.hpp>
#include <ecgssl/loss/diversity_loss.hpp>

#include <doctest/doctest.h>

#include "loss_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

static_assert(loss_function<diversity_loss<float>>);
static_assert(loss_function<diversity_loss<double>>);

TEST_CASE("diversity_loss matches PyTorch") {
  const auto logits = load_tensor<double, 2>("diversity_logits");
  diversity_loss<double> loss({2, 7});
  CHECK(relative(loss.forward(logits), load_scalar("diversity_loss")) < 1e-12);
  CHECK(relative(loss.prob_perplexity(), load_scalar("diversity_perplexity")) < 1e-12);
  tensor<double, 2> grad = xt::zeros<double>(logits.shape());
  loss.backward(1.0, grad);
  CHECK(scaled_difference(grad, load_tensor<double, 2>("diversity_grad")) < 1e-10);
  diversity_loss<float> single({2, 7});
  CHECK(relative(single.forward(load_tensor<float, 2>("diversity_logits")), load_scalar("diversity_loss")) < 1e-5);
  tensor<float, 2> grad_f = xt::zeros<float>(logits.shape());
  single.backward(1.0f, grad_f);
  CHECK(scaled_difference(grad_f, load_tensor<double, 2>("diversity_grad")) < 1e-5);
}

TEST_CASE("diversity_loss is near 0 for uniform codeword use and near 1 - 1/V for collapse") {
  diversity_loss<double> loss({1, 4});
  tensor<double, 2> uniform = xt::zeros<double>({3, 4});
  // p̄ = 1/4 each: perplexity = exp(-log(1/4 + 1e-7)) ≈ 4.
  CHECK(loss.forward(uniform) == doctest::Approx((4.0 - 1.0 / (0.25 + 1e-7)) / 4.0).epsilon(1e-12));
  tensor<double, 2> collapsed = {{100, 0, 0, 0}, {100, 0, 0, 0}};
  CHECK(loss.forward(collapsed) == doctest::Approx(0.75).epsilon(1e-6));
}

TEST_CASE("diversity_loss gradient matches finite differences") {
  auto logits = load_tensor<double, 2>("diversity_logits");
  diversity_loss<double> loss({2, 7});
  loss.forward(logits);
  tensor<double, 2> grad = xt::zeros<double>(logits.shape());
  loss.backward(1.0, grad);
  auto f = [&] { return loss.forward(logits); };
  CHECK(check_gradient(as_span(logits), as_span(std::as_const(grad)), f, "logits", 1e-5).max_relative_error < 1e-5);
}

TEST_CASE("diversity_loss rejects logits whose width is not G*V") {
  diversity_loss<double> loss;
  tensor<double, 2> logits = xt::zeros<double>({3, 100});
  CHECK_THROWS_AS(loss.forward(logits), shape_error);
}

TEST_CASE("diversity_loss is bit-identical across thread counts") {
  tensor<float, 2> logits = xt::zeros<float>({1000, 640});
  const random_stream rng(9, 0);
  for (std::size_t i = 0; i < logits.size(); ++i) logits.data()[i] = static_cast<float>(rng.normal(i));
  const int all = max_threads();
  set_threads(1);
  diversity_loss<float> a;
  const float one = a.forward(logits);
  set_threads(std::max(all, 2));
  diversity_loss<float> b;
  const float many = b.forward(logits);
  set_threads(all);
  CHECK(one == many);
  CHECK(a.mean_probabilities() == b.mean_probabilities());
}

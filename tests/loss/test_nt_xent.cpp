#include <ecgssl/core/concepts.hpp>
#include <ecgssl/loss/nt_xent.hpp>

#include <doctest/doctest.h>

#include "loss_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

static_assert(loss_function<nt_xent<float>>);
static_assert(loss_function<nt_xent<double>>);

TEST_CASE("nt_xent with F.normalize matches PyTorch") {
  const auto z = load_tensor<double, 2>("ntxent_z");
  const nt_xent_options differentiated_norm{0.1, 1e-8, false, nt_xent_pairing::halves};
  nt_xent<double> loss(differentiated_norm);
  CHECK(relative(loss.forward(z), load_scalar("ntxent_loss")) < 1e-12);
  tensor<double, 2> grad = xt::zeros<double>(z.shape());
  loss.backward(1.0, grad);
  CHECK(scaled_difference(grad, load_tensor<double, 2>("ntxent_grad")) < 1e-10);
  nt_xent<float> single(differentiated_norm);
  CHECK(relative(single.forward(load_tensor<float, 2>("ntxent_z")), load_scalar("ntxent_loss")) < 1e-5);
  tensor<float, 2> grad_f = xt::zeros<float>(z.shape());
  single.backward(1.0f, grad_f);
  CHECK(scaled_difference(grad_f, load_tensor<double, 2>("ntxent_grad")) < 1e-5);
}

TEST_CASE("nt_xent in the reference criteria's forms (detached norm; adjacent views; 3KG identities) matches PyTorch") {
  const auto z = load_tensor<double, 2>("ntxent_z");
  SUBCASE("simclr criterion: views 2i and 2i+1") {
    nt_xent<double> loss({0.1, 1e-8, true, nt_xent_pairing::adjacent});
    CHECK(relative(loss.forward(z), load_scalar("ntxent_adjacent_loss")) < 1e-12);
    CHECK(loss.positive_pairs() == 8);
    tensor<double, 2> grad = xt::zeros<double>(z.shape());
    loss.backward(1.0, grad);
    CHECK(scaled_difference(grad, load_tensor<double, 2>("ntxent_adjacent_grad")) < 1e-10);
    // The same through identities.
    nt_xent<double> by_id;
    by_id.set_identities(load_ids("ntxent_adjacent_ids"));
    CHECK(relative(by_id.forward(z), load_scalar("ntxent_adjacent_loss")) < 1e-12);
  }
  SUBCASE("3kg criterion: several positives per identity, a singleton without any") {
    nt_xent<double> loss;
    loss.set_identities(load_ids("ntxent_identities_ids"));
    CHECK(relative(loss.forward(z), load_scalar("ntxent_identities_loss")) < 1e-12);
    CHECK(loss.positive_pairs() == 3 * 2 + 2 + 2);
    tensor<double, 2> grad = xt::zeros<double>(z.shape());
    loss.backward(1.0, grad);
    CHECK(scaled_difference(grad, load_tensor<double, 2>("ntxent_identities_grad")) < 1e-10);
    nt_xent<float> single;
    single.set_identities(load_ids("ntxent_identities_ids"));
    CHECK(relative(single.forward(load_tensor<float, 2>("ntxent_z")), load_scalar("ntxent_identities_loss")) < 1e-5);
  }
}

TEST_CASE("nt_xent on two orthogonal pairs by hand") {
  // Views 0/2 equal (e1), views 1/3 equal (e2): sim to partner 1/τ, to the other pair 0.
  tensor<double, 2> z = {{1, 0}, {0, 2}, {3, 0}, {0, 1}};
  nt_xent<double> loss({0.5, 1e-8, false});
  const double expected = std::log(std::exp(2.0) + 2.0) - 2.0;
  CHECK(loss.forward(z) == doctest::Approx(expected).epsilon(1e-12));
}

TEST_CASE("nt_xent gradient matches finite differences, with and without a detached norm") {
  for (bool detach : {false, true}) {
    CAPTURE(detach);
    auto z = load_tensor<double, 2>("ntxent_z");
    nt_xent<double> loss({0.1, 1e-8, detach});
    loss.forward(z);
    tensor<double, 2> grad = xt::zeros<double>(z.shape());
    loss.backward(1.0, grad);
    if (detach) {
      // A detached norm is a different derivative: check against the objective with the norms frozen.
      std::vector<double> norms(z.shape()[0]);
      for (std::size_t i = 0; i < norms.size(); ++i) norms[i] = std::sqrt(xt::sum(xt::square(xt::row(z, i)))());
      auto frozen = [&] {
        tensor<double, 2> scaled = z;
        for (std::size_t i = 0; i < norms.size(); ++i) xt::row(scaled, i) /= norms[i];
        // The NT-Xent formula on rows divided by their base-point norms (held constant).
        const std::size_t n2 = scaled.shape()[0];
        double total = 0;
        for (std::size_t i = 0; i < n2; ++i) {
          std::vector<double> s(n2);
          double top = -1e300;
          for (std::size_t k = 0; k < n2; ++k) {
            s[k] = k == i ? -1e300 : xt::sum(xt::row(scaled, i) * xt::row(scaled, k))() / 0.1;
            top = std::max(top, s[k]);
          }
          double sum = 0;
          for (std::size_t k = 0; k < n2; ++k) sum += k == i ? 0.0 : std::exp(s[k] - top);
          total += top + std::log(sum) - s[(i + n2 / 2) % n2];
        }
        return total / static_cast<double>(n2);
      };
      CHECK(check_gradient(as_span(z), as_span(std::as_const(grad)), frozen, "z").max_relative_error < 1e-5);
    } else {
      auto f = [&] { return loss.forward(z); };
      CHECK(check_gradient(as_span(z), as_span(std::as_const(grad)), f, "z").max_relative_error < 1e-5);
    }
  }
}

TEST_CASE("nt_xent rejects an odd number of rows and a bad temperature") {
  nt_xent<double> loss;
  tensor<double, 2> z = xt::ones<double>({3, 2});
  CHECK_THROWS_AS(loss.forward(z), shape_error);
  CHECK_THROWS_AS(nt_xent<double>({0.0, 1e-8, false}), config_error);
  const std::vector<std::int64_t> distinct{1, 2, 3};
  loss.set_identities(distinct);
  CHECK_THROWS_AS(loss.forward(z), data_error);
  const std::vector<std::int64_t> too_few{1, 1};
  loss.set_identities(too_few);
  CHECK_THROWS_AS(loss.forward(z), shape_error);
}

#include <ecgssl/core/concepts.hpp>
#include <ecgssl/loss/cmsc_loss.hpp>

#include <doctest/doctest.h>

#include "loss_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

static_assert(loss_function<cmsc_loss<float>>);
static_assert(loss_function<cmsc_loss<double>>);

TEST_CASE("cmsc_loss matches PyTorch in the reference form and the paper's 2N form") {
  const auto x = load_tensor<double, 3>("cmsc_x");
  const auto records = load_ids("cmsc_records");
  const auto segments = load_ids("cmsc_segments");
  for (auto [form, tag] : {std::pair{cmsc_form::cross_segment, "cmsc_"}, std::pair{cmsc_form::nt_xent_2n, "cmsc_ntxent_"}}) {
    CAPTURE(tag);
    cmsc_options options;
    options.form = form;
    cmsc_loss<double> loss(options);
    loss.set_targets(records, segments);
    CHECK(relative(loss.forward(x), load_scalar(std::string(tag) + "loss")) < 1e-12);
    tensor<double, 3> grad = xt::zeros<double>(x.shape());
    loss.backward(1.0, grad);
    CHECK(scaled_difference(grad, load_tensor<double, 3>(std::string(tag) + "grad")) < 1e-10);
    cmsc_loss<float> single(options);
    single.set_targets(records, segments);
    CHECK(relative(single.forward(load_tensor<float, 3>("cmsc_x")), load_scalar(std::string(tag) + "loss")) < 1e-5);
    tensor<float, 3> grad_f = xt::zeros<float>(x.shape());
    single.backward(1.0f, grad_f);
    CHECK(scaled_difference(grad_f, load_tensor<double, 3>(std::string(tag) + "grad")) < 1e-5);
  }
  cmsc_loss<double> loss;
  loss.set_targets(records, segments);
  loss.forward(x);
  CHECK(loss.positives() == 6);  // record 10: 2x2 pairs, records 11 and 12: one each
}

TEST_CASE("cmsc_loss per-row-mean reduction (Jan 2022 criterion) matches PyTorch") {
  const auto x = load_tensor<double, 3>("cmsc_x");
  cmsc_options options;
  options.reduction = cmsc_reduction::per_row_mean;
  cmsc_loss<double> loss(options);
  loss.set_targets(load_ids("cmsc_records"), load_ids("cmsc_segments"));
  const double value = loss.forward(x);
  CHECK(relative(value, load_scalar("cmsc_rowmean_loss")) < 1e-12);
  CHECK(relative(value, load_scalar("cmsc_loss")) > 1e-6);  // extra positives make the forms differ
  tensor<double, 3> grad = xt::zeros<double>(x.shape());
  loss.backward(1.0, grad);
  CHECK(scaled_difference(grad, load_tensor<double, 3>("cmsc_rowmean_grad")) < 1e-10);
  // With one positive per row the two reductions agree.
  const std::vector<std::int64_t> records{1, 1, 2, 2, 3, 3, 4, 4};
  const std::vector<std::int64_t> segments{0, 1, 0, 1, 0, 1, 0, 1};
  loss.set_targets(records, segments);
  cmsc_loss<double> all;
  all.set_targets(records, segments);
  CHECK(loss.forward(x) == doctest::Approx(all.forward(x)).epsilon(1e-13));
  // A row without a partner is an error for this reduction (the reference returns NaN).
  const std::vector<std::int64_t> unmatched{1, 1, 2, 5, 3, 3, 4, 4};
  loss.set_targets(unmatched, segments);
  CHECK_THROWS_AS(loss.forward(x), data_error);
}

TEST_CASE("cmsc_loss pools with the element-wise non-zero count") {
  // One pair; segment 0 has a zero at frame 1 of dim 0, so that column is averaged over 1 frame.
  tensor<double, 3> x = {{{2.0, 1.0}, {0.0, 3.0}}, {{1.0, 1.0}, {1.0, 1.0}}};
  cmsc_loss<double> loss;
  const std::vector<std::int64_t> records{5, 5};
  const std::vector<std::int64_t> segments{0, 1};
  loss.set_targets(records, segments);
  CHECK(loss.forward(x) == doctest::Approx(0.0));  // a single pair: softmax over one entry
  CHECK(loss.pooled()(0, 0) == 2.0);
  CHECK(loss.pooled()(0, 1) == 2.0);
}

TEST_CASE("cmsc_loss with the detached norm matches finite differences of the frozen-norm objective") {
  // The reference divides by stopgrad(‖g‖): the analytic gradient is that of Λ = (g_A/n_A)(g_B/n_B)ᵀ/τ
  // with the norms n held at their base-point values. Check it against central differences of
  // exactly that objective, and check that it differs from the full (non-detached) derivative.
  auto x = load_tensor<double, 3>("cmsc_x");
  const auto records = load_ids("cmsc_records");
  const auto segments = load_ids("cmsc_segments");
  cmsc_loss<double> loss;
  loss.set_targets(records, segments);
  loss.forward(x);
  tensor<double, 3> grad = xt::zeros<double>(x.shape());
  loss.backward(1.0, grad);
  const auto base = loss.pooled();
  std::vector<double> norms(base.shape()[0]);
  for (std::size_t i = 0; i < norms.size(); ++i) norms[i] = std::sqrt(xt::sum(xt::square(xt::row(base, i)))());
  // Counting zeros is piecewise constant and jumps when an exact zero is perturbed, so the
  // check perturbs only the non-zero entries (the zeros' gradient is covered by the parity test).
  std::vector<std::size_t> where;
  std::vector<double> point, analytic;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x.data()[i] != 0.0) {
      where.push_back(i);
      point.push_back(x.data()[i]);
      analytic.push_back(grad.data()[i]);
    }
  }
  CHECK(where.size() < x.size());
  auto scatter = [&] {
    for (std::size_t k = 0; k < where.size(); ++k) x.data()[where[k]] = point[k];
  };
  auto frozen = [&] {
    scatter();
    cmsc_loss<double> probe;
    probe.set_targets(records, segments);
    probe.forward(x);
    tensor<double, 2> g = probe.pooled();
    for (std::size_t i = 0; i < norms.size(); ++i) xt::row(g, i) *= 1.0 / norms[i];
    // Λ from rows g/n_base directly.
    const std::size_t n = norms.size() / 2;
    std::vector<std::size_t> a, b;
    for (std::size_t i = 0; i < segments.size(); ++i) (segments[i] == 0 ? a : b).push_back(i);
    std::vector<double> lam(n * n);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) lam[i * n + j] = xt::sum(xt::row(g, a[i]) * xt::row(g, b[j]))() / 0.1;
    double row = 0, col = 0, positives = 0;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        if (records[a[i]] != records[b[j]]) continue;
        double rs = 0, cs = 0;
        for (std::size_t k = 0; k < n; ++k) {
          rs += std::exp(lam[i * n + k]);
          cs += std::exp(lam[k * n + j]);
        }
        row += std::log(rs) - lam[i * n + j];
        col += std::log(cs) - lam[i * n + j];
        positives += 1;
      }
    }
    return 0.5 * row / positives + 0.5 * col / positives;
  };
  CHECK(check_gradient(point, analytic, frozen, "x").max_relative_error < 1e-5);
  // The full derivative (norm differentiated) is different: the detach matters.
  auto full = [&] {
    scatter();
    return loss.forward(x);
  };
  CHECK(check_gradient(point, analytic, full, "x").max_relative_error > 1e-2);
}

TEST_CASE("cmsc_loss rejects unbalanced segments and missing positives") {
  cmsc_loss<double> loss;
  const std::vector<std::int64_t> records{1, 1, 2};
  const std::vector<std::int64_t> segments{0, 1, 1};
  CHECK_THROWS_AS(loss.set_targets(records, segments), data_error);
  const std::vector<std::int64_t> records2{1, 2};
  const std::vector<std::int64_t> segments2{0, 1};
  CHECK_THROWS_AS(loss.set_targets(records2, segments2), data_error);
  const std::vector<std::int64_t> segments3{0, 2};
  CHECK_THROWS_AS(loss.set_targets(records2, segments3), data_error);
  const std::vector<std::int64_t> records4{1, 1};
  loss.set_targets(records4, segments2);
  tensor<double, 3> x = xt::ones<double>({4, 2, 2});
  CHECK_THROWS_AS(loss.forward(x), shape_error);
}

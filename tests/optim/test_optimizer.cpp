#include <ecgssl/core/archetypes.hpp>
#include <ecgssl/core/concepts.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/optim/adam.hpp>
#include <ecgssl/optim/adamw.hpp>
#include <ecgssl/optim/optimizer.hpp>
#include <ecgssl/optim/sgd.hpp>

#include <doctest/doctest.h>

#include <map>

#include "optim_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

TEST_CASE("optimizer drives a policy without gradient_scale by scaling the gradients first") {
  parameter_store<double> store;
  auto p = store.add("p", {2});
  store.allocate();
  p.value()[0] = 1.0;
  p.value()[1] = 2.0;
  p.grad()[0] = 4.0;
  p.grad()[1] = -2.0;
  optimizer<archetypes::update_archetype, archetypes::schedule_archetype, double> opt(
      store, {}, archetypes::schedule_archetype{0.1});
  opt.step(0.5);
  CHECK(p.value()[0] == doctest::Approx(1.0 - 0.1 * 2.0));
  CHECK(p.value()[1] == doctest::Approx(2.0 + 0.1 * 1.0));
  CHECK(opt.step_count() == 1);
  CHECK(opt.last_learning_rate() == 0.1);
}

TEST_CASE("optimizer clips the global gradient norm as torch.nn.utils.clip_grad_norm_") {
  parameter_store<double> store;
  setup_problem(store);
  adamw rule;
  rule.weight_decay = 0.05;
  optimizer_options options;
  options.max_gradient_norm = 0.5;
  optimizer<adamw, fixed_schedule, double> opt(store, rule, fixed_schedule{0.05, 5}, options);
  CHECK(replay(opt, store, "adamw_fixed_clip") < 1e-6);
  CHECK(opt.last_gradient_norm() > 0.0);
}

TEST_CASE("optimizer parameter groups: learning-rate multiplier and no decay follow torch's param groups") {
  adamw rule;
  rule.weight_decay = 0.05;
  SUBCASE("selected by prefix with an explicit weight decay") {
    parameter_store<double> store;
    setup_problem(store);
    optimizer<adamw, cosine_schedule, double> opt(store, rule, cosine_schedule{0.05, 10, 100, 1e-4});
    parameter_group bias;
    bias.name = "bias";
    bias.prefixes = {"b"};
    bias.learning_rate_multiplier = 0.5;
    bias.weight_decay = 0.0;
    opt.add_group(bias);
    CHECK(replay(opt, store, "adamw_cosine_groups") < 1e-6);
  }
  SUBCASE("selected by predicate, decay removed through parameter_attributes") {
    parameter_store<double> store;
    setup_problem(store, parameter_attributes{/*weight_decay=*/false, /*trainable=*/true});
    optimizer<adamw, cosine_schedule, double> opt(store, rule, cosine_schedule{0.05, 10, 100, 1e-4});
    parameter_group bias;
    bias.predicate = [](const parameter_entry& e) { return e.shape.size() == 1; };
    bias.learning_rate_multiplier = 0.5;
    opt.add_group(bias);
    CHECK(replay(opt, store, "adamw_cosine_groups") < 1e-6);
  }
}

TEST_CASE("optimizer never moves frozen parameters") {
  for (int how = 0; how < 2; ++how) {
    parameter_store<double> store;
    setup_problem(store, parameter_attributes{true, /*trainable=*/how != 0});
    optimizer<adam, fixed_schedule, double> opt(store, adam{}, fixed_schedule{0.1});
    if (how == 1) {
      parameter_group frozen;
      frozen.prefixes = {"b"};
      frozen.frozen = true;
      opt.add_group(frozen);
    }
    const std::vector<double> b0(store.values("b").begin(), store.values("b").end());
    const std::vector<double> w0(store.values("w").begin(), store.values("w").end());
    const least_squares problem;
    for (int u = 0; u < 3; ++u) {
      store.zero_grad();
      problem.gradient<double>(store.values("w"), store.values("b"), store.grads("w"), store.grads("b"));
      opt.step();
    }
    CHECK(std::equal(b0.begin(), b0.end(), store.values("b").begin()));
    CHECK(!std::equal(w0.begin(), w0.end(), store.values("w").begin()));
  }
}

TEST_CASE("optimizer with accumulated micro-batches and step(1/sample_size) equals the full batch") {
  parameter_store<double> full, split;
  setup_problem(full);
  setup_problem(split);
  adam rule;
  rule.weight_decay = 0.01;
  optimizer<adam, fixed_schedule, double> a(full, rule, fixed_schedule{0.01});
  optimizer<adam, fixed_schedule, double> b(split, rule, fixed_schedule{0.01});
  const least_squares problem;
  for (int u = 0; u < 10; ++u) {
    full.zero_grad();
    problem.gradient<double>(full.values("w"), full.values("b"), full.grads("w"), full.grads("b"));
    a.step();
    // Two micro-batches of 5 and 11 rows, each a summed (un-normalised) loss; then 1/16.
    split.zero_grad();
    problem.gradient<double>(split.values("w"), split.values("b"), split.grads("w"), split.grads("b"), 0, 5, 16.0);
    problem.gradient<double>(split.values("w"), split.values("b"), split.grads("w"), split.grads("b"), 5, 16, 16.0);
    b.step(1.0 / 16.0);
  }
  for (std::size_t i = 0; i < full.size(); ++i) CHECK(split.values()[i] == doctest::Approx(full.values()[i]).epsilon(1e-12));
}

TEST_CASE("optimizer state is exposed by name and resumes a run exactly") {
  adam rule;
  rule.weight_decay = 0.01;
  const least_squares problem;
  auto run = [&](parameter_store<double>& store, optimizer<adam, tri_stage_schedule, double>& opt, int steps) {
    for (int u = 0; u < steps; ++u) {
      store.zero_grad();
      problem.gradient<double>(store.values("w"), store.values("b"), store.grads("w"), store.grads("b"));
      opt.step();
    }
  };
  const tri_stage_schedule schedule(0.05, 10, 20, 50, 0.01, 0.02);
  parameter_store<double> straight;
  setup_problem(straight);
  optimizer<adam, tri_stage_schedule, double> opt_straight(straight, rule, schedule);
  run(straight, opt_straight, 60);

  parameter_store<double> first;
  setup_problem(first);
  optimizer<adam, tri_stage_schedule, double> opt_first(first, rule, schedule);
  run(first, opt_first, 25);
  std::map<std::string, std::vector<double>> checkpoint;
  for (const auto& t : opt_first.state_tensors()) checkpoint[t.name].assign(t.values.begin(), t.values.end());
  CHECK(checkpoint.size() == 5);
  CHECK(checkpoint.count("optimizer.exp_avg.w") == 1);
  CHECK(checkpoint.count("optimizer.exp_avg_sq.b") == 1);
  CHECK(checkpoint.at("optimizer.step") == std::vector<double>{25.0});
  CHECK(opt_first.state_tensors()[0].shape == std::vector<std::size_t>{4, 3});

  parameter_store<double> resumed;
  setup_problem(resumed);
  std::copy(first.values().begin(), first.values().end(), resumed.values().begin());
  optimizer<adam, tri_stage_schedule, double> opt_resumed(resumed, rule, schedule);
  for (const auto& [name, values] : checkpoint) opt_resumed.load_state_tensor(name, values);
  CHECK(opt_resumed.step_count() == 25);
  run(resumed, opt_resumed, 35);
  for (std::size_t i = 0; i < straight.size(); ++i) CHECK(resumed.values()[i] == straight.values()[i]);

  CHECK_THROWS_AS(opt_resumed.load_state_tensor("optimizer.exp_avg.nope", checkpoint.at("optimizer.exp_avg.b")), config_error);
  CHECK_THROWS_AS(opt_resumed.load_state_tensor("optimizer.exp_avg.w", checkpoint.at("optimizer.exp_avg.b")), shape_error);
  const std::vector<double> fractional{2.5};
  CHECK_THROWS_AS(opt_resumed.load_state_tensor("optimizer.step", fractional), data_error);
}

TEST_CASE("optimizer update and clipping are bit-identical across thread counts") {
  auto run = [](int threads) {
    set_threads(threads);
    parameter_store<float> store;
    store.add("a", {300, 700});
    store.add("norm.bias", {700}, parameter_attributes{false, true});
    store.add("c", {123457});
    store.allocate();
    const random_stream rng(3, 0);
    for (std::size_t i = 0; i < store.size(); ++i) {
      store.values()[i] = static_cast<float>(rng.normal(i));
      store.grads()[i] = static_cast<float>(rng.normal(store.size() + i));
    }
    optimizer_options options;
    options.max_gradient_norm = 1.0;
    optimizer<adam, fixed_schedule, float> opt(store, adam{0.9, 0.98, 1e-6, 0.01}, fixed_schedule{1e-3}, options);
    opt.step(0.25);
    opt.step(0.25);
    return std::vector<float>(store.values().begin(), store.values().end());
  };
  const int all = max_threads();
  const auto one = run(1);
  const auto many = run(std::max(all, 2));
  set_threads(all);
  CHECK(one == many);
}

TEST_CASE("optimizer rejects bad settings and an unallocated store") {
  parameter_store<float> store;
  store.add("p", {2});
  optimizer_options options;
  options.max_gradient_norm = -1.0;
  CHECK_THROWS_AS((optimizer<sgd, fixed_schedule, float>(store, sgd{}, fixed_schedule{}, options)), config_error);
  optimizer<sgd, fixed_schedule, float> opt(store, sgd{}, fixed_schedule{});
  CHECK_THROWS_AS(opt.step(), config_error);
  parameter_group negative;
  negative.learning_rate_multiplier = -1.0;
  CHECK_THROWS_AS(opt.add_group(negative), config_error);
}

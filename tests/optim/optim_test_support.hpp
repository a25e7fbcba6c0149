#pragma once
// The fixed small problem of tools/make_optim_fixtures.py and a runner that replays 100 updates
// and compares every step with the PyTorch trajectory.

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/optim/optimizer.hpp>

#include <support/npy.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace ecgssl::testing {

inline npy_array optim_fixture(const std::string& name) {
  return read_npy(std::string(ECGSSL_TEST_DATA_DIR) + "/optim/" + name + ".npy");
}

/// L = mean_rows Σ_cols (X W + b - Y)²; X [16, 4], W [4, 3], b [3], Y [16, 3].
struct least_squares {
  npy_array x = optim_fixture("problem_x");
  npy_array y = optim_fixture("problem_y");
  static constexpr std::size_t rows = 16, in = 4, out = 3;

  /// Accumulates dL/dW, dL/db over rows [begin, end) of the batch, each row weighted 1/16·weight.
  template <class T>
  void gradient(std::span<const T> w, std::span<const T> b, std::span<T> dw, std::span<T> db,
                std::size_t begin = 0, std::size_t end = rows, double weight = 1.0) const {
    for (std::size_t r = begin; r < end; ++r) {
      for (std::size_t c = 0; c < out; ++c) {
        double z = static_cast<double>(b[c]) - y.values[r * out + c];
        for (std::size_t k = 0; k < in; ++k) z += x.values[r * in + k] * static_cast<double>(w[k * out + c]);
        const double dz = 2.0 * z / static_cast<double>(rows) * weight;
        db[c] += static_cast<T>(dz);
        for (std::size_t k = 0; k < in; ++k) dw[k * out + c] += static_cast<T>(dz * x.values[r * in + k]);
      }
    }
  }
};

/// Declares "w" [4, 3] and "b" [3] and loads the fixture's starting point.
template <class T>
void setup_problem(parameter_store<T>& store, parameter_attributes bias_attributes = {}) {
  auto w = store.add("w", {4, 3});
  auto b = store.add("b", {3}, bias_attributes);
  store.allocate();
  const auto w0 = optim_fixture("problem_w0");
  const auto b0 = optim_fixture("problem_b0");
  std::transform(w0.values.begin(), w0.values.end(), w.value().begin(), [](double v) { return static_cast<T>(v); });
  std::transform(b0.values.begin(), b0.values.end(), b.value().begin(), [](double v) { return static_cast<T>(v); });
}

/// Runs 100 updates and returns the worst relative deviation from the fixture trajectory,
/// max over steps of ‖p - p_ref‖∞ / ‖p_ref‖∞.
template <class Optimizer, class T>
double replay(Optimizer& opt, parameter_store<T>& store, const std::string& fixture) {
  const least_squares problem;
  const auto expected = optim_fixture(fixture);
  double worst = 0;
  for (std::size_t u = 0; u < 100; ++u) {
    store.zero_grad();
    problem.gradient<T>(store.values("w"), store.values("b"), store.grads("w"), store.grads("b"));
    opt.step();
    auto values = store.values();
    double scale = 0, diff = 0;
    for (std::size_t i = 0; i < 15; ++i) {
      const double ref = expected.values[u * 15 + i];
      scale = std::max(scale, std::abs(ref));
      diff = std::max(diff, std::abs(static_cast<double>(values[i]) - ref));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

}  // namespace ecgssl::testing

#include <ecgssl/optim/cosine_schedule.hpp>
#include <ecgssl/optim/fixed_schedule.hpp>
#include <ecgssl/optim/polynomial_decay_schedule.hpp>
#include <ecgssl/optim/tri_stage_schedule.hpp>

namespace ecgssl::testing {

/// Calls f(name, schedule) with the four schedules of tools/make_optim_fixtures.py.
template <class F>
void for_each_fixture_schedule(F&& f) {
  f(std::string("fixed"), fixed_schedule{0.05, 5});
  f(std::string("tri_stage"), tri_stage_schedule(0.05, 10, 20, 50, 0.01, 0.02));
  f(std::string("polynomial"), polynomial_decay_schedule{0.05, 10, 90, 1e-4, 2.0});
  f(std::string("cosine"), cosine_schedule{0.05, 10, 100, 1e-4});
}

/// Replays `rule` with every fixture schedule (double) and returns the worst deviation.
template <class U>
double worst_over_schedules(const U& rule, const std::string& prefix) {
  double worst = 0;
  for_each_fixture_schedule([&](const std::string& name, auto schedule) {
    parameter_store<double> store;
    setup_problem(store);
    optimizer<U, decltype(schedule), double> opt(store, rule, schedule);
    worst = std::max(worst, replay(opt, store, prefix + "_" + name));
  });
  return worst;
}

}  // namespace ecgssl::testing

#pragma once
// Finite-difference gradient checking in double precision (central differences), shared by
// every layer, container, loss and model test. The checker perturbs the real buffers in place
// and restores them, so it sees exactly the code path the library runs.

#include <ecgssl/core/concepts.hpp>
#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace ecgssl::testing {

/// The worst disagreement between an analytic and a numerical gradient.
struct gradient_report {
  double max_relative_error = 0.0;
  std::size_t worst_index = 0;
  double analytic = 0.0;
  double numeric = 0.0;
  std::string where;  // which buffer (input / parameter name)
};

/// |a - n| / max(|a|, |n|, floor): relative where the gradient is large, absolute near zero.
inline double relative_error(double analytic, double numeric, double floor = 1e-6) {
  return std::abs(analytic - numeric) / std::max({std::abs(analytic), std::abs(numeric), floor});
}

/// Central-difference check of `analytic` = d evaluate() / d point, perturbing `point` in place.
/// `evaluate` must recompute the scalar objective from the current contents of `point`.
inline gradient_report check_gradient(std::span<double> point, std::span<const double> analytic,
                                      const std::function<double()>& evaluate, const std::string& where,
                                      double step = 1e-6, double floor = 1e-6) {
  gradient_report report;
  report.where = where;
  for (std::size_t i = 0; i < point.size(); ++i) {
    const double saved = point[i];
    point[i] = saved + step;
    const double plus = evaluate();
    point[i] = saved - step;
    const double minus = evaluate();
    point[i] = saved;
    const double numeric = (plus - minus) / (2.0 * step);
    const double error = relative_error(analytic[i], numeric, floor);
    if (i == 0 || error > report.max_relative_error) {
      report.max_relative_error = error;
      report.worst_index = i;
      report.analytic = analytic[i];
      report.numeric = numeric;
    }
  }
  return report;
}

/// Fills a buffer with uniform values in [lo, hi) from a counter-based stream.
inline void fill_uniform(std::span<double> values, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  const random_stream rng(seed, 0);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = lo + (hi - lo) * rng.uniform(i);
}

/// Checks a layer's input and parameter gradients. The objective is L = sum(w * forward(x)) with
/// fixed random weights w, so backward receives dy = w. Returns one report per buffer checked
/// (the input first, then every parameter of `store`).
template <layer L>
  requires std::is_same_v<typename L::scalar_type, double>
std::vector<gradient_report> check_layer(L& layer, parameter_store<double>& store,
                                         typename L::input_type& x, std::uint64_t seed = 7,
                                         double step = 1e-6, double floor = 1e-6) {
  using output_type = typename L::output_type;
  output_type y;
  layer.forward(x, y);
  output_type weights = y;
  fill_uniform(std::span<double>(weights.data(), weights.size()), seed);

  auto objective = [&]() {
    output_type out;
    layer.forward(x, out);
    double total = 0.0;
    for (std::size_t i = 0; i < out.size(); ++i) total += out.data()[i] * weights.data()[i];
    return total;
  };

  // Analytic gradients from one forward/backward at the unperturbed point.
  store.zero_grad();
  layer.forward(x, y);
  typename L::input_type dx = x;
  std::fill(dx.data(), dx.data() + dx.size(), 0.0);
  layer.backward(weights, dx);
  std::vector<double> param_grads(store.grads().begin(), store.grads().end());

  std::vector<gradient_report> reports;
  reports.push_back(check_gradient(std::span<double>(x.data(), x.size()),
                                   std::span<const double>(dx.data(), dx.size()), objective, "input",
                                   step, floor));
  for (const auto& entry : store.entries()) {
    auto values = store.values().subspan(entry.offset, entry.size);
    auto grads = std::span<const double>(param_grads).subspan(entry.offset, entry.size);
    reports.push_back(check_gradient(values, grads, objective, entry.name, step, floor));
  }
  return reports;
}

}  // namespace ecgssl::testing

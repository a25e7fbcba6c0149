#include <ecgssl/nn/gumbel_quantizer.hpp>

#include <doctest/doctest.h>
#include <support/gradient_check.hpp>

#include <cmath>
#include <vector>

namespace {
using ecgssl::tensor;
using quant_t = ecgssl::nn::gumbel_quantizer<double>;
static_assert(ecgssl::layer<quant_t>);
static_assert(ecgssl::layer<ecgssl::nn::gumbel_quantizer<float>>);

constexpr std::size_t N = 5, C = 4, G = 2, V = 3, D = 6;  // vq_dim 6 -> codes of 3

struct fixture {
  ecgssl::parameter_store<double> store;
  quant_t q{{.input_dim = C, .groups = G, .codes = V, .vq_dim = D}};
  tensor<double, 2> x = tensor<double, 2>::from_shape({N, C});
  fixture() {
    q.declare_parameters(store, "quantizer.");
    store.allocate();
    ecgssl::testing::fill_uniform(store.values(), 61, -1.0, 1.0);
    ecgssl::testing::fill_uniform(std::span<double>(x.data(), x.size()), 62);
  }
  // logits computed in the test from the stored weights
  std::vector<double> logits() {
    auto w = store.values("quantizer.weight_proj.weight");
    auto b = store.values("quantizer.weight_proj.bias");
    std::vector<double> l(N * G * V);
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t j = 0; j < G * V; ++j) {
        l[n * G * V + j] = b[j];
        for (std::size_t c = 0; c < C; ++c) l[n * G * V + j] += w[j * C + c] * x(n, c);
      }
    return l;
  }
};

double perplexity_from(const std::vector<double>& l) {
  double pp = 0;
  for (std::size_t g = 0; g < G; ++g) {
    std::vector<double> mean(V, 0.0);
    for (std::size_t n = 0; n < N; ++n) {
      double z = 0;
      for (std::size_t v = 0; v < V; ++v) z += std::exp(l[n * G * V + g * V + v]);
      for (std::size_t v = 0; v < V; ++v) mean[v] += std::exp(l[n * G * V + g * V + v]) / z / N;
    }
    double h = 0;
    for (double p : mean) h -= p * std::log(p + 1e-7);
    pp += std::exp(h);
  }
  return pp;
}
}  // namespace

TEST_CASE("quantizer parameter names and the temperature schedule") {
  fixture f;
  CHECK(f.store.find("quantizer.vars")->shape == std::vector<std::size_t>{1, G * V, D / G});
  CHECK(f.store.find("quantizer.weight_proj.weight")->shape == std::vector<std::size_t>{G * V, C});
  CHECK(f.store.find("quantizer.weight_proj.bias")->shape == std::vector<std::size_t>{G * V});
  quant_t q;
  CHECK(q.temperature() == doctest::Approx(2.0));
  q.set_num_updates(35000);
  CHECK(q.temperature() == doctest::Approx(2.0 * std::pow(0.999995, 35000)));
  q.set_num_updates(1000000);
  CHECK(q.temperature() == 0.5);
  CHECK_THROWS_AS(quant_t({.groups = 3, .vq_dim = 256}), ecgssl::config_error);
}

TEST_CASE("evaluation quantizer picks argmax codes and computes both perplexities") {
  fixture f;
  f.q.set_training(false);
  tensor<double, 2> out;
  f.q.forward(f.x, out);
  const auto l = f.logits();
  auto vars = f.store.values("quantizer.vars");
  std::vector<std::vector<double>> counts(G, std::vector<double>(V, 0.0));
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t g = 0; g < G; ++g) {
      std::size_t k = 0;
      for (std::size_t v = 1; v < V; ++v) k = l[n * G * V + g * V + v] > l[n * G * V + g * V + k] ? v : k;
      counts[g][k] += 1.0 / N;
      for (std::size_t c = 0; c < D / G; ++c) CHECK(out(n, g * D / G + c) == vars[(g * V + k) * (D / G) + c]);
    }
  double code_pp = 0;
  for (const auto& cg : counts) {
    double h = 0;
    for (double p : cg) h -= p * std::log(p + 1e-7);
    code_pp += std::exp(h);
  }
  CHECK(f.q.code_perplexity() == doctest::Approx(code_pp).epsilon(1e-12));
  CHECK(f.q.prob_perplexity() == doctest::Approx(perplexity_from(l)).epsilon(1e-12));
}

TEST_CASE("quantizer gradients (codes and prob perplexity) match finite differences in evaluation") {
  fixture f;
  f.q.set_training(false);
  const double c_pp = 0.7;
  tensor<double, 2> out, w;
  f.q.forward(f.x, out);
  w = out;
  ecgssl::testing::fill_uniform(std::span<double>(w.data(), w.size()), 63);
  auto objective = [&]() {
    tensor<double, 2> o;
    f.q.forward(f.x, o);
    double s = c_pp * f.q.prob_perplexity();
    for (std::size_t i = 0; i < o.size(); ++i) s += o.data()[i] * w.data()[i];
    return s;
  };
  f.store.zero_grad();
  f.q.forward(f.x, out);
  tensor<double, 2> dx = xt::zeros<double>(f.x.shape());
  f.q.backward(w, c_pp, dx);
  std::vector<double> grads(f.store.grads().begin(), f.store.grads().end());
  auto rep = ecgssl::testing::check_gradient(std::span<double>(f.x.data(), f.x.size()),
                                             std::span<const double>(dx.data(), dx.size()), objective, "x");
  CHECK(rep.max_relative_error < 1e-6);
  for (const auto& e : f.store.entries()) {
    auto r = ecgssl::testing::check_gradient(f.store.values().subspan(e.offset, e.size),
                                             std::span<const double>(grads).subspan(e.offset, e.size),
                                             objective, e.name);
    INFO(e.name << " " << r.analytic << " vs " << r.numeric);
    CHECK(r.max_relative_error < 1e-6);
  }
}

TEST_CASE("straight-through training gradient equals the gradient of the soft Gumbel relaxation") {
  fixture f;
  f.q.set_training(true);
  f.q.set_num_updates(20000);
  const double tau = f.q.temperature();
  tensor<double, 2> noise = tensor<double, 2>::from_shape({N, G * V});
  const ecgssl::random_stream rng(64, 1);
  for (std::size_t i = 0; i < noise.size(); ++i) noise.data()[i] = rng.gumbel(i);
  f.q.set_gumbel_noise(noise);
  tensor<double, 2> out;
  f.q.forward(f.x, out);
  auto vars = f.store.values("quantizer.vars");
  const auto l = f.logits();
  // forward: hard codes of argmax(logits + noise)
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t g = 0; g < G; ++g) {
      std::size_t k = 0;
      auto z = [&](std::size_t v) { return l[n * G * V + g * V + v] + noise(n, g * V + v); };
      for (std::size_t v = 1; v < V; ++v) k = z(v) > z(k) ? v : k;
      CHECK(f.q.codes()[n * G + g] == std::int64_t(k));
      CHECK(out(n, g * D / G) == vars[(g * V + k) * (D / G)]);
    }
  // Definition: d/dtheta of sum(w * soft_q) with soft_q = sum_v softmax((l + noise)/tau)_v vars_v,
  // except that vars receive the hard (one-hot) weights. Check the weight_proj and input
  // gradients against finite differences of that surrogate.
  tensor<double, 2> w = out;
  ecgssl::testing::fill_uniform(std::span<double>(w.data(), w.size()), 65);
  auto surrogate = [&]() {
    const auto lg = f.logits();
    double s = 0;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t g = 0; g < G; ++g) {
        double z = 0;
        std::vector<double> e(V);
        for (std::size_t v = 0; v < V; ++v) z += e[v] = std::exp((lg[n * G * V + g * V + v] + noise(n, g * V + v)) / tau);
        for (std::size_t v = 0; v < V; ++v)
          for (std::size_t c = 0; c < D / G; ++c)
            s += w(n, g * D / G + c) * e[v] / z * vars[(g * V + v) * (D / G) + c];
      }
    return s;
  };
  f.store.zero_grad();
  tensor<double, 2> dx = xt::zeros<double>(f.x.shape());
  f.q.backward(w, dx);
  std::vector<double> grads(f.store.grads().begin(), f.store.grads().end());
  CHECK(ecgssl::testing::check_gradient(std::span<double>(f.x.data(), f.x.size()),
                                        std::span<const double>(dx.data(), dx.size()), surrogate, "x")
            .max_relative_error < 1e-6);
  for (auto name : {"quantizer.weight_proj.weight", "quantizer.weight_proj.bias"}) {
    const auto* e = f.store.find(name);
    auto r = ecgssl::testing::check_gradient(f.store.values().subspan(e->offset, e->size),
                                             std::span<const double>(grads).subspan(e->offset, e->size),
                                             surrogate, name);
    INFO(name << " " << r.analytic << " vs " << r.numeric);
    CHECK(r.max_relative_error < 1e-6);
  }
  // vars: hard weights, i.e. dq summed over the positions that selected each code
  const auto* e = f.store.find("quantizer.vars");
  std::vector<double> expected(e->size, 0.0);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t c = 0; c < D / G; ++c)
        expected[(g * V + std::size_t(f.q.codes()[n * G + g])) * (D / G) + c] += w(n, g * D / G + c);
  for (std::size_t i = 0; i < e->size; ++i) CHECK(grads[e->offset + i] == doctest::Approx(expected[i]).epsilon(1e-14));
}

#include "model/model_fixtures.hpp"

TEST_CASE("training quantizer matches PyTorch gumbel_softmax(hard) with explicit noise") {
  ecgssl::parameter_store<float> store;
  ecgssl::nn::gumbel_quantizer<float> q({.input_dim = 16, .groups = 2, .codes = 8, .vq_dim = 12});
  q.declare_parameters(store, "");
  store.allocate();
  model_test::load_parameter(store, "vars", "quantizer", "vars");
  model_test::load_parameter(store, "weight_proj.weight", "quantizer", "weight");
  model_test::load_parameter(store, "weight_proj.bias", "quantizer", "bias");
  q.set_training(true);
  q.set_num_updates(1000);
  q.set_gumbel_noise(model_test::load<float, 2>("quantizer", "noise"));
  const auto x = model_test::load<float, 2>("quantizer", "x");
  tensor<float, 2> out;
  q.forward(x, out);
  model_test::require_close(out.data(), "quantizer", "q", 1e-5);
  CHECK(q.prob_perplexity() == doctest::Approx(model_test::read("quantizer", "prob_perplexity").values[0]).epsilon(1e-5));
  CHECK(q.code_perplexity() == doctest::Approx(model_test::read("quantizer", "code_perplexity").values[0]).epsilon(1e-5));
  tensor<float, 2> dx = xt::zeros<float>(x.shape());
  q.backward(model_test::load<float, 2>("quantizer", "dq"), 0.5f, dx);
  model_test::require_close(dx.data(), "quantizer", "dx", 1e-4);
  model_test::require_close(store.grads("vars").data(), "quantizer", "dvars", 1e-4);
  model_test::require_close(store.grads("weight_proj.weight").data(), "quantizer", "dweight", 1e-4);
  model_test::require_close(store.grads("weight_proj.bias").data(), "quantizer", "dbias", 1e-4);
}

// Compiled by the host compiler: the per-element math of the CUDA Gumbel quantizer and diversity
// loss (cuda/detail/gumbel_math.cuh), run in the kernels' decomposition (one call per row,
// column or element, as the threads do), against the host gumbel_quantizer and diversity_loss
// (themselves checked against PyTorch and finite differences in tests/nn and tests/loss). The
// replay starts from the host layer's logits, as the device's selection starts from its own
// weight_proj output.
#include <ecgssl/cuda/detail/gumbel_math.cuh>
#include <ecgssl/loss/diversity_loss.hpp>
#include <ecgssl/nn/gumbel_quantizer.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "gpu_test_support.hpp"

namespace gm = ecgssl::cuda_detail::gumbel;

namespace {

constexpr std::uint64_t seed = 83;
constexpr std::size_t N = 7, C = 6, G = 2, V = 5, D = 8;  // codes of D / G = 4 entries

enum class mode { random_stream, injected_noise, evaluation };

template <class T>
void check_quantizer_replay(mode m) {
  using quantizer = ecgssl::nn::gumbel_quantizer<T>;
  quantizer host({.input_dim = C, .groups = G, .codes = V, .vq_dim = D});
  ecgssl::parameter_store<T> store;
  host.declare_parameters(store, "q.");
  store.allocate();
  const auto init = gpu_test::random_values(seed, store.size(), 1, 2.0);
  for (std::size_t i = 0; i < store.size(); ++i) store.values()[i] = static_cast<T>(init[i]);
  host.set_num_updates(1000);
  const ecgssl::random_stream rng(seed, ecgssl::stream_id({4, 9}));
  const auto noise = gpu_test::random_tensor<T, 2>(seed, {N, G * V}, 5, 3.0);
  if (m == mode::evaluation) host.set_training(false);
  if (m == mode::random_stream) host.set_random_stream(rng);
  if (m == mode::injected_noise) host.set_gumbel_noise(noise);

  const auto x = gpu_test::random_tensor<T, 2>(seed, {N, C}, 2);
  ecgssl::tensor<T, 2> q;
  host.forward(x, q);
  const ecgssl::tensor<T, 2> logits = host.logits();

  // forward, replayed: select (one call per row), statistics (per column), lookup (per element)
  const gm::dims d{N, G, V, D / G};
  const bool noisy = m != mode::evaluation;
  const T inv_tau = static_cast<T>(1.0 / host.temperature());
  std::vector<T> probs(N * G * V), soft(N * G * V);
  std::vector<std::int64_t> hard(N * G), codes(N * G);
  for (std::size_t r = 0; r < d.rows(); ++r) {
    gm::select_row(d, r, logits.data(), m == mode::injected_noise ? noise.data() : nullptr, rng, noisy, inv_tau,
                   probs.data(), soft.data(), hard.data(), codes.data());
  }
  CHECK(codes == host.codes());
  std::vector<double> stats(2 * G * V);
  for (std::size_t c = 0; c < G * V; ++c) gm::statistics_column(d, c, probs.data(), hard.data(), stats.data());
  double prob_ppl = 0, code_ppl = 0;
  std::vector<double> pbar(G * V), group_ppl(G);
  for (std::size_t g = 0; g < G; ++g) {
    double hp = 0, hc = 0, counted = 0;
    for (std::size_t v = 0; v < V; ++v) {
      pbar[g * V + v] = stats[g * V + v] / N;
      hp -= pbar[g * V + v] * std::log(pbar[g * V + v] + 1e-7);
      const double c = stats[G * V + g * V + v] / N;
      hc -= c * std::log(c + 1e-7);
      counted += stats[G * V + g * V + v];
    }
    CHECK(counted == N);  // every position counted once per group
    group_ppl[g] = std::exp(hp);
    prob_ppl += group_ppl[g];
    code_ppl += std::exp(hc);
  }
  CHECK(prob_ppl == doctest::Approx(host.prob_perplexity()).epsilon(1e-14));
  CHECK(code_ppl == doctest::Approx(host.code_perplexity()).epsilon(1e-14));
  const auto vars = store.values("q.vars");
  for (std::size_t e = 0; e < q.size(); ++e) REQUIRE(gm::lookup(d, e, codes.data(), vars.data()) == q.data()[e]);

  // backward with a non-zero dq and a non-zero prob_perplexity gradient
  const auto dq = gpu_test::random_tensor<T, 2>(seed, {N, D}, 3);
  const T dppl = T(0.75);
  ecgssl::tensor<T, 2> dx({N, C});
  dx.fill(T(0));
  host.backward(dq, dppl, dx);

  std::vector<T> dvars(G * V * (D / G), T(0));
  for (std::size_t e = 0; e < dvars.size(); ++e) gm::vars_gradient(d, e, dq.data(), codes.data(), dvars.data());
  const auto host_dvars = store.grads("q.vars");
  for (std::size_t e = 0; e < dvars.size(); ++e) REQUIRE(dvars[e] == host_dvars[e]);  // same order of adds

  std::vector<T> dpbar(G * V);
  for (std::size_t g = 0; g < G; ++g) {
    for (std::size_t v = 0; v < V; ++v) {
      const double p = pbar[g * V + v];
      dpbar[g * V + v] = static_cast<T>(static_cast<double>(dppl) * group_ppl[g] *
                                        -(std::log(p + 1e-7) + p / (p + 1e-7)) / N);
    }
  }
  std::vector<T> dlogits(N * G * V, T(99));  // written, not accumulated
  for (std::size_t r = 0; r < d.rows(); ++r) {
    gm::logits_gradient_row(d, r, dq.data(), vars.data(), soft.data(), probs.data(), dpbar.data(), noisy, inv_tau,
                            dlogits.data());
  }
  // weight_proj's backward, naive: dx = dlogits W, dW = dlogits^T x, db = column sums
  const auto w = store.values("q.weight_proj.weight");  // [G*V, C]
  std::vector<T> rdx(N * C, T(0)), rdw(G * V * C, T(0)), rdb(G * V, T(0));
  for (std::size_t n = 0; n < N; ++n) {
    for (std::size_t j = 0; j < G * V; ++j) {
      const T dl = dlogits[n * G * V + j];
      rdb[j] += dl;
      for (std::size_t c = 0; c < C; ++c) {
        rdx[n * C + c] += dl * w[j * C + c];
        rdw[j * C + c] += dl * x.data()[n * C + c];
      }
    }
  }
  const double t = gpu_test::tol<T>(1e-5, 1e-12);
  CHECK(gpu_test::relative_difference(rdx.data(), dx.data(), rdx.size()) <= t);
  CHECK(gpu_test::relative_difference(rdw.data(), store.grads("q.weight_proj.weight").data(), rdw.size()) <= t);
  CHECK(gpu_test::relative_difference(rdb.data(), store.grads("q.weight_proj.bias").data(), rdb.size()) <= t);
  double largest = 0;
  for (T g : rdx) largest = std::max(largest, std::abs(static_cast<double>(g)));
  CHECK(largest > 1e-3);  // the comparison is not between zeros
}

}  // namespace

TEST_CASE_TEMPLATE("gumbel math replays the host quantizer: training with a random stream", T, float, double) {
  check_quantizer_replay<T>(mode::random_stream);
}
TEST_CASE_TEMPLATE("gumbel math replays the host quantizer: training with injected noise", T, float, double) {
  check_quantizer_replay<T>(mode::injected_noise);
}
TEST_CASE_TEMPLATE("gumbel math replays the host quantizer: evaluation", T, float, double) {
  check_quantizer_replay<T>(mode::evaluation);
}

TEST_CASE_TEMPLATE("gumbel math replays the host diversity_loss, loss and gradient", T, float, double) {
  constexpr std::size_t P = 9;
  const auto logits = gpu_test::random_tensor<T, 2>(seed, {P, G * V}, 7, 4.0);
  ecgssl::diversity_loss<T> host({.groups = G, .vars = V});
  const T loss = host.forward(logits);
  ecgssl::tensor<T, 2> grad({P, G * V});
  grad.fill(T(0.5));
  host.backward(T(1.5), grad);

  std::vector<T> probs(P * G * V), mean(G * V), perplexity;
  for (std::size_t r = 0; r < P * G; ++r) gm::diversity_softmax_row(r, V, logits.data(), probs.data());
  for (std::size_t c = 0; c < G * V; ++c) mean[c] = gm::diversity_mean_column(c, P, G * V, probs.data());
  const double t = gpu_test::tol<T>(1e-6, 1e-14);
  for (std::size_t c = 0; c < G * V; ++c) CHECK(mean[c] == doctest::Approx(host.mean_probabilities()[c]).epsilon(t));
  T total = 0;
  const T replay_loss = ecgssl::diversity_detail::loss_from_mean(mean, G, V, perplexity, total);
  CHECK(replay_loss == doctest::Approx(loss).epsilon(t));
  CHECK(total == doctest::Approx(host.prob_perplexity()).epsilon(t));
  std::vector<T> a(G * V);
  ecgssl::diversity_detail::mean_gradient(mean, perplexity, G, V, a);
  std::vector<T> replay(P * G * V, T(0.5));
  for (std::size_t r = 0; r < P * G; ++r) {
    gm::diversity_gradient_row(r, G, V, probs.data(), a.data(), static_cast<T>(T(1.5) / static_cast<T>(P)),
                               replay.data());
  }
  CHECK(gpu_test::relative_difference(replay.data(), grad.data(), replay.size()) <= gpu_test::tol<T>(1e-5, 1e-13));
}

TEST_CASE("gumbel math softmax and argmax by hand") {
  const double in[3] = {0.0, std::log(3.0), 0.0};
  double out[3];
  gm::gumbel_softmax_row(in, out, 3, 1.0);
  CHECK(out[0] == doctest::Approx(0.2).epsilon(1e-15));
  CHECK(out[1] == doctest::Approx(0.6).epsilon(1e-15));
  const float ties[4] = {1.f, 2.f, 2.f, 0.f};
  CHECK(gm::gumbel_argmax(ties, 4) == 1);  // the first of equal maxima, as the host loop
}

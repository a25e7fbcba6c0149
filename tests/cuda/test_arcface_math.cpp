// Compiled by the host compiler: the math of arcface<T, cuda> (cuda/detail/arcface_math.cuh)
// run on the host in the kernels' order (per-lane partials combined by the kernels' fixed tree,
// GEMMs through run_on_host of the same gemm_plans), against the host arcface (itself checked
// against PyTorch fixtures and finite differences in tests/loss): value, cosines, probabilities,
// and the gradients of the embeddings and of W, for both branches of the margin.
#include <ecgssl/cuda/detail/arcface_math.cuh>
#include <ecgssl/loss/arcface.hpp>

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <type_traits>
#include <vector>

#include "gpu_test_support.hpp"
#include "id_loss_cases.hpp"
#include "kernel_replay.hpp"

namespace {

namespace ar = ecgssl::cuda_detail::arc;
namespace replay = gpu_test::replay;
using gpu_test::relative_difference;

// arcface<T, cuda>'s forward and backward, kernel by kernel.
template <class T>
struct emulated_arcface {
  ecgssl::arcface_options options;
  std::size_t batch = 0, classes = 0, dim = 0;
  std::vector<std::int64_t> labels;
  std::vector<T> e_hat, e_norm, w_hat, w_norm, cos, probs, dphi;

  T forward(const ecgssl::tensor<T, 2>& x, const std::vector<T>& w) {
    batch = x.shape()[0];
    dim = x.shape()[1];
    classes = w.size() / dim;
    const T eps = static_cast<T>(options.norm_eps);
    replay::normalize_rows(x.data(), batch, dim, eps, e_hat, e_norm);
    replay::normalize_rows(w.data(), classes, dim, eps, w_hat, w_norm);
    cos.assign(batch * classes, T(5));  // beta = 0 must overwrite
    const auto bi = static_cast<std::int64_t>(batch), di = static_cast<std::int64_t>(dim),
               ci = static_cast<std::int64_t>(classes);
    ecgssl::cuda_detail::run_on_host(ar::cosines_plan(bi, di, ci), T(1), w_hat.data(), e_hat.data(), T(0), cos.data());
    const auto k = ar::make_margin_constants<T>(options.scale, options.margin);
    probs.assign(batch * classes, T(0));
    dphi.assign(batch, T(0));
    std::vector<T> row_losses(batch);
    for (std::size_t b = 0; b < batch; ++b) {
      const T* c = cos.data() + b * classes;
      const auto y = static_cast<std::size_t>(labels[b]);
      T phi;
      ar::target_margin(c[y], k, &phi, &dphi[b]);
      std::vector<T> pm(ar::lanes);
      std::vector<ar::acc_t<T>> ps(ar::lanes);
      for (unsigned t = 0; t < ar::lanes; ++t) pm[t] = ar::lane_logit_max(c, classes, y, phi, k.scale, t);
      const T top = replay::tree_max(pm);
      for (unsigned t = 0; t < ar::lanes; ++t) ps[t] = ar::lane_logit_exp_sum(c, classes, y, phi, k.scale, top, t);
      const ar::acc_t<T> sum = replay::tree_sum(ps);
      row_losses[b] = ar::row_loss(top, sum, phi, k.scale);
      for (std::size_t j = 0; j < classes; ++j) {
        probs[b * classes + j] = ar::probability(ar::logit(j, y, c[j], phi, k.scale), top, sum);
      }
    }
    std::vector<ar::acc_t<T>> lane_totals(ar::lanes, 0);
    for (std::size_t b = 0; b < batch; ++b) lane_totals[b % ar::lanes] += row_losses[b];
    return static_cast<T>(replay::tree_sum(lane_totals) / static_cast<ar::acc_t<T>>(batch));
  }

  void backward(T upstream, T* dx, T* dw) {
    const T scale_all = upstream * static_cast<T>(options.scale) / static_cast<T>(batch);
    std::vector<T> dcos(batch * classes);
    for (std::size_t e = 0; e < batch * classes; ++e) {
      const std::size_t b = e / classes;
      dcos[e] = ar::dcos_entry(probs[e], cos[e], static_cast<std::size_t>(labels[b]) == e % classes, dphi[b], scale_all);
    }
    const T eps = static_cast<T>(options.norm_eps);
    const auto bi = static_cast<std::int64_t>(batch), di = static_cast<std::int64_t>(dim),
               ci = static_cast<std::int64_t>(classes);
    std::vector<T> d_hat(batch * dim, T(2)), d_w_hat(classes * dim, T(2));  // beta = 0 must overwrite
    ecgssl::cuda_detail::run_on_host(ar::embedding_grad_plan(bi, di, ci), T(1), w_hat.data(), dcos.data(), T(0),
                                     d_hat.data());
    replay::normalize_rows_backward(e_hat, e_norm, d_hat, batch, dim, eps, dx);
    ecgssl::cuda_detail::run_on_host(ar::weight_grad_plan(bi, di, ci), T(1), e_hat.data(), dcos.data(), T(0),
                                     d_w_hat.data());
    replay::normalize_rows_backward(w_hat, w_norm, d_w_hat, classes, dim, eps, dw);
  }
};

template <class T, std::size_t N>
ecgssl::tensor<T, N> random_tensor(const std::array<std::size_t, N>& shape, std::uint64_t stream, double scale = 1.0) {
  return gpu_test::random_tensor<T, N>(97, shape, stream, scale);
}

template <class T>
void check_against_host(std::size_t batch, std::size_t classes, std::size_t dim, ecgssl::arcface_options options,
                        std::uint64_t seed) {
  CAPTURE(batch);
  CAPTURE(classes);
  CAPTURE(options.scale);
  CAPTURE(options.margin);
  const double tol = std::is_same_v<T, float> ? 5e-5 : 1e-11;
  auto x = random_tensor<T, 2>({batch, dim}, seed, 2.0);
  const auto w_tensor = random_tensor<T, 2>({classes, dim}, seed + 1);
  std::vector<T> w(w_tensor.begin(), w_tensor.end());
  std::vector<std::int64_t> labels(batch);
  for (std::size_t b = 0; b < batch; ++b) labels[b] = static_cast<std::int64_t>((b * 7 + 3) % classes);
  // Row 0's class row points away from it (cosθ near -0.9: the fallback branch for m >= 0.5);
  // row 1's class row is near it (cosθ near 0.9: the margin branch near the top).
  const auto noise = random_tensor<T, 2>({2, dim}, seed + 2, 0.15);
  for (std::size_t d = 0; d < dim; ++d) {
    w[static_cast<std::size_t>(labels[0]) * dim + d] = -x(0, d) + noise(0, d) * std::abs(x(0, d));
  }
  if (labels[1] != labels[0]) {
    for (std::size_t d = 0; d < dim; ++d) w[static_cast<std::size_t>(labels[1]) * dim + d] = x(1, d) + noise(1, d);
  }
  std::vector<T> host_dw(classes * dim, T(0.25));
  auto emu_dw = host_dw;
  ecgssl::arcface<T> host(classes, dim, options);
  host.bind_weights(w, host_dw);
  host.set_targets(labels);
  const T host_loss = host.forward(x);
  auto host_dx = random_tensor<T, 2>({batch, dim}, seed + 3);
  auto emu_dx = host_dx;
  host.backward(T(0.9), host_dx);

  emulated_arcface<T> emu;
  emu.options = options;
  emu.labels = labels;
  const T loss = emu.forward(x, w);
  CHECK(std::abs(static_cast<double>(loss) - host_loss) <= tol * std::abs(static_cast<double>(host_loss)));
  CHECK(relative_difference(emu.cos.data(), host.cosines().data(), emu.cos.size()) <= tol);
  CHECK(relative_difference(emu.probs.data(), host.probabilities().data(), emu.probs.size()) <= tol);
  emu.backward(T(0.9), emu_dx.data(), emu_dw.data());
  CHECK(relative_difference(emu_dx.data(), host_dx.data(), host_dx.size()) <= tol);
  CHECK(relative_difference(emu_dw.data(), host_dw.data(), host_dw.size()) <= tol);
}

}  // namespace

TEST_CASE_TEMPLATE("arcface cuda math equals the host arcface, both margin branches, past `lanes` classes and dims", T,
                   float, double) {
  gpu_test::arcface_cases([](std::size_t batch, std::size_t classes, std::size_t dim,
                             const ecgssl::arcface_options& options, std::uint64_t seed) {
    check_against_host<T>(batch, classes, dim, options, seed);
  });
}

TEST_CASE("arcface cuda math by hand: the target's margin cosine and its derivative") {
  // m = 1: cosθ = 0.6 -> sinθ = 0.8, φ = 0.6 cos 1 - 0.8 sin 1, dφ = cos 1 + 0.6 sin 1 / 0.8;
  // cosθ = -0.9 < cos(π - 1): φ = -0.9 - sin(π - 1)·1, dφ = 1.
  const auto k = ar::make_margin_constants<double>(192.0, 1.0);
  double phi = 0, dphi = 0;
  ar::target_margin(0.6, k, &phi, &dphi);
  CHECK(phi == doctest::Approx(0.6 * std::cos(1.0) - 0.8 * std::sin(1.0)).epsilon(1e-14));
  CHECK(dphi == doctest::Approx(std::cos(1.0) + 0.75 * std::sin(1.0)).epsilon(1e-14));
  ar::target_margin(-0.9, k, &phi, &dphi);
  CHECK(phi == doctest::Approx(-0.9 - std::sin(std::numbers::pi - 1.0)).epsilon(1e-14));
  CHECK(dphi == 1.0);
  // Clamp active: no gradient through that cosine.
  CHECK(ar::dcos_entry(0.3, 1.0000001, false, 1.0, 2.0) == 0.0);
  CHECK(ar::dcos_entry(0.3, 0.5, true, 2.0, 3.0) == doctest::Approx(3.0 * (0.3 - 1.0) * 2.0).epsilon(1e-15));
}

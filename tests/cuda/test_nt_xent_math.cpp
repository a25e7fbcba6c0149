// Compiled by the host compiler: the math of nt_xent<T, cuda> (cuda/detail/nt_xent_math.cuh)
// run on the host in the kernels' order (per-lane partials combined by the kernels' fixed tree,
// GEMMs through run_on_host of the same gemm_plans), against the host nt_xent (itself checked
// against PyTorch fixtures and finite differences in tests/loss), for both pairings, explicit
// identities with several positives and rows without any, and a detached or differentiated norm.
#include <ecgssl/cuda/detail/nt_xent_math.cuh>
#include <ecgssl/loss/nt_xent.hpp>

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "gpu_test_support.hpp"
#include "id_loss_cases.hpp"
#include "kernel_replay.hpp"

namespace {

namespace nx = ecgssl::cuda_detail::ntx;
namespace replay = gpu_test::replay;
using gpu_test::relative_difference;

// nt_xent<T, cuda>'s forward and backward, kernel by kernel.
template <class T>
struct emulated_nt_xent {
  ecgssl::nt_xent_options options;
  std::vector<std::int64_t> ids;
  std::size_t rows = 0, dim = 0, pairs = 0;
  std::vector<T> hat, norms, sim, dsim;

  T forward(const ecgssl::tensor<T, 2>& z) {
    rows = z.shape()[0];
    dim = z.shape()[1];
    replay::normalize_rows(z.data(), rows, dim, static_cast<T>(options.norm_eps), hat, norms);
    sim.assign(rows * rows, T(-3));  // beta = 0 must overwrite
    const auto ri = static_cast<std::int64_t>(rows), di = static_cast<std::int64_t>(dim);
    ecgssl::cuda_detail::run_on_host(nx::similarity_plan(ri, di), static_cast<T>(1.0 / options.temperature), hat.data(),
                                     hat.data(), T(0), sim.data());
    dsim.assign(rows * rows, T(0));
    std::vector<nx::acc_t<T>> row_loss(rows);
    for (std::size_t i = 0; i < rows; ++i) {
      const T* s = sim.data() + i * rows;
      std::vector<T> pm(nx::lanes);
      std::vector<nx::acc_t<T>> ps(nx::lanes), pl(nx::lanes), pi(nx::lanes);
      for (unsigned t = 0; t < nx::lanes; ++t) pm[t] = nx::lane_row_max(s, rows, i, t);
      const T top = replay::tree_max(pm);
      for (unsigned t = 0; t < nx::lanes; ++t) ps[t] = nx::lane_negative_sum(s, ids.data(), rows, i, top, t);
      const T negatives = static_cast<T>(replay::tree_sum(ps));
      for (unsigned t = 0; t < nx::lanes; ++t) {
        nx::lane_positive_terms(s, ids.data(), rows, i, top, negatives, t, &pl[t], &pi[t]);
      }
      row_loss[i] = replay::tree_sum(pl);
      const T inverse_sum = static_cast<T>(replay::tree_sum(pi));
      for (std::size_t k = 0; k < rows; ++k) {
        dsim[i * rows + k] = nx::dsim_entry(s[k], top, negatives, inverse_sum, k == i, ids[k] != ids[i]);
      }
    }
    // w2v::sum_kernel: lane i % lanes, then the tree.
    std::vector<nx::acc_t<T>> lane_totals(nx::lanes, 0);
    for (std::size_t i = 0; i < rows; ++i) lane_totals[i % nx::lanes] += row_loss[i];
    return static_cast<T>(replay::tree_sum(lane_totals) / static_cast<nx::acc_t<T>>(pairs));
  }

  void backward(T upstream, T* dz) {
    const T scale = upstream / (static_cast<T>(pairs) * static_cast<T>(options.temperature));
    std::vector<T> d_hat(rows * dim, T(8));  // the first GEMM's beta = 0 must overwrite
    const auto ri = static_cast<std::int64_t>(rows), di = static_cast<std::int64_t>(dim);
    ecgssl::cuda_detail::run_on_host(nx::hat_grad_plan(ri, di), scale, hat.data(), dsim.data(), T(0), d_hat.data());
    ecgssl::cuda_detail::run_on_host(nx::hat_grad_transposed_plan(ri, di), scale, hat.data(), dsim.data(), T(1),
                                     d_hat.data());
    const T eps = static_cast<T>(options.norm_eps);
    if (options.detach_norm) {
      for (std::size_t e = 0; e < rows * dim; ++e) dz[e] += nx::detached_normalize_backward(d_hat[e], norms[e / dim], eps);
    } else {
      replay::normalize_rows_backward(hat, norms, d_hat, rows, dim, eps, dz);
    }
  }
};

template <class T, std::size_t N>
ecgssl::tensor<T, N> random_tensor(const std::array<std::size_t, N>& shape, std::uint64_t stream, double scale = 1.0) {
  return gpu_test::random_tensor<T, N>(95, shape, stream, scale);
}

// identities empty: the pairing rule.
template <class T>
void check_against_host(std::size_t rows, std::size_t dim, const std::vector<std::int64_t>& identities,
                        ecgssl::nt_xent_options options, std::uint64_t seed) {
  CAPTURE(rows);
  CAPTURE(options.detach_norm);
  CAPTURE(static_cast<int>(options.pairing));
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  auto z = random_tensor<T, 2>({rows, dim}, seed, 3.0);
  for (std::size_t c = 0; c < dim; ++c) z(1, c) = T(0);  // a zero row: the eps branch of the normalisation
  ecgssl::nt_xent<T> host(options);
  if (!identities.empty()) host.set_identities(identities);
  const T host_loss = host.forward(z);
  auto host_grad = random_tensor<T, 2>({rows, dim}, seed + 1);
  auto emu_grad = host_grad;
  host.backward(T(1.3), host_grad);

  emulated_nt_xent<T> emu;
  emu.options = options;
  ecgssl::nt_xent<T>::resolve_identities(identities, rows, options.pairing, emu.ids);
  emu.pairs = host.positive_pairs();
  const T loss = emu.forward(z);
  CHECK(std::abs(static_cast<double>(loss) - host_loss) <= tol * std::abs(static_cast<double>(host_loss)));
  emu.backward(T(1.3), emu_grad.data());
  CHECK(relative_difference(emu_grad.data(), host_grad.data(), host_grad.size()) <= tol);
}

template <class T>
void check_cases(bool large) {
  const auto check = [](std::size_t rows, std::size_t dim, const std::vector<std::int64_t>& ids,
                        const ecgssl::nt_xent_options& options, std::uint64_t seed) {
    check_against_host<T>(rows, dim, ids, options, seed);
  };
  if (large) {
    gpu_test::nt_xent_large_cases(check);
  } else {
    gpu_test::nt_xent_small_cases(check);
  }
}

}  // namespace

TEST_CASE_TEMPLATE("nt_xent cuda math equals the host nt_xent, both pairings, identities, both norm modes", T, float,
                   double) {
  check_cases<T>(false);
}

TEST_CASE_TEMPLATE("nt_xent cuda math at a realistic size and past `lanes` rows and dims", T, float, double) {
  check_cases<T>(true);
}

TEST_CASE("nt_xent cuda math by hand: two orthogonal pairs at tau 1") {
  // Rows e0, e1, e0, e1 (halves: pairs 0-2, 1-3): s_ij = 1 for the partner, 0 otherwise, so each
  // of the 4 ordered pairs has loss -1 + log(e + 2).
  emulated_nt_xent<double> emu;
  emu.options.temperature = 1.0;
  emu.ids = {0, 1, 0, 1};
  emu.pairs = 4;
  ecgssl::tensor<double, 2> z({4, 2});
  z.fill(0.0);
  z(0, 0) = 2.0;
  z(1, 1) = 0.5;
  z(2, 0) = 4.0;
  z(3, 1) = 3.0;
  CHECK(emu.forward(z) == doctest::Approx(std::log(std::exp(1.0) + 2.0) - 1.0).epsilon(1e-14));
  // dL/ds of row 0 (before 1/P): the partner e/(e+2) - 1, each negative 1/(e+2), the diagonal 0.
  const double e = std::exp(1.0);
  CHECK(emu.dsim[0] == 0.0);
  CHECK(emu.dsim[1] == doctest::Approx(1.0 / (e + 2.0)).epsilon(1e-14));
  CHECK(emu.dsim[2] == doctest::Approx(e / (e + 2.0) - 1.0).epsilon(1e-14));
}

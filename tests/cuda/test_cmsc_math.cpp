// Compiled by the host compiler: the math of cmsc_loss<T, cuda> (cuda/detail/cmsc_math.cuh) run
// on the host in the kernels' order (per-lane partials of `lanes` lanes combined by the same
// fixed tree, GEMMs through run_on_host of the same gemm_plans), against the host cmsc_loss
// (itself checked against PyTorch fixtures and finite differences in tests/loss). This checks
// the stacking/scatter indices, the GEMM orientations, both reductions and the pooling without
// a GPU; the kernels themselves only loop over these functions.
#include <ecgssl/cuda/detail/cmsc_math.cuh>
#include <ecgssl/loss/cmsc_loss.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include <ecgssl/core/philox.hpp>

namespace cm = ecgssl::cuda_detail::cmsc;

#include "gpu_test_support.hpp"
#include "kernel_replay.hpp"

namespace {

using gpu_test::replay::tree_max;
using gpu_test::replay::tree_sum;

// The cuda loss's forward/backward on pooled embeddings, step by step as the kernels run.
template <class T>
struct emulated_cmsc {
  std::vector<std::int64_t> first, second;
  std::vector<T> positive, row_pos, col_pos;
  std::size_t n = 0, positives = 0, dim = 0;
  ecgssl::cmsc_options options;
  std::vector<T> hat, norms, logits, row_lse, col_lse, row_probs, col_probs;

  emulated_cmsc(const std::vector<std::int64_t>& records, const std::vector<std::int64_t>& segments,
                ecgssl::cmsc_options o)
      : options(o) {
    for (std::size_t i = 0; i < segments.size(); ++i) (segments[i] == 0 ? first : second).push_back(static_cast<std::int64_t>(i));
    n = first.size();
    positive.assign(n * n, T(0));
    row_pos.assign(n, T(0));
    col_pos.assign(n, T(0));
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        if (records[first[i]] != records[second[j]]) continue;
        positive[i * n + j] = T(1);
        row_pos[i] += T(1);
        col_pos[j] += T(1);
        ++positives;
      }
    }
  }

  void softmax_lines(std::size_t line_stride, std::size_t elem_stride, std::vector<T>& lse, std::vector<T>& probs) {
    lse.assign(n, T(0));
    probs.assign(n * n, T(0));
    for (std::size_t l = 0; l < n; ++l) {
      const T* line = logits.data() + l * line_stride;
      std::vector<T> pm(cm::lanes);
      for (unsigned t = 0; t < cm::lanes; ++t) pm[t] = cm::lane_max(line, n, elem_stride, t);
      const T top = tree_max(pm);
      std::vector<cm::acc_t<T>> ps(cm::lanes);
      for (unsigned t = 0; t < cm::lanes; ++t) ps[t] = cm::lane_exp_sum(line, n, elem_stride, top, t);
      lse[l] = cm::log_sum_exp_from(top, tree_sum(ps));
      for (std::size_t k = 0; k < n; ++k) probs[l * line_stride + k * elem_stride] = cm::probability(line[k * elem_stride], lse[l]);
    }
  }

  T forward_pooled(const ecgssl::tensor<T, 2>& g) {
    dim = g.shape()[1];
    const T eps = static_cast<T>(options.norm_eps);
    hat.assign(2 * n * dim, T(0));
    norms.assign(2 * n, T(0));
    for (std::size_t r = 0; r < 2 * n; ++r) {
      const T* row = g.data() + static_cast<std::size_t>(cm::stacked_source(r, n, first.data(), second.data())) * dim;
      std::vector<cm::acc_t<T>> ps(cm::lanes);
      for (unsigned t = 0; t < cm::lanes; ++t) ps[t] = cm::lane_sum_of_squares(row, dim, t);
      norms[r] = cm::norm_from<T>(tree_sum(ps));
      const T inv = cm::inverse_norm(norms[r], eps);
      for (std::size_t c = 0; c < dim; ++c) hat[r * dim + c] = row[c] * inv;
    }
    logits.assign(n * n, T(-7));  // beta = 0 must overwrite
    const T inv_tau = static_cast<T>(1.0 / options.temperature);
    const auto ni = static_cast<std::int64_t>(n), di = static_cast<std::int64_t>(dim);
    ecgssl::cuda_detail::run_on_host(cm::logits_plan(ni, di), inv_tau, hat.data(), hat.data(), T(0), logits.data());
    softmax_lines(n, 1, row_lse, row_probs);
    softmax_lines(1, n, col_lse, col_probs);
    const bool all = options.reduction == ecgssl::cmsc_reduction::all_positives;
    std::vector<cm::acc_t<T>> rs(cm::lanes), cs(cm::lanes);
    for (unsigned t = 0; t < cm::lanes; ++t) {
      cm::lane_positive_terms(logits.data(), positive.data(), row_lse.data(), col_lse.data(), row_pos.data(),
                              col_pos.data(), all, n, t, &rs[t], &cs[t]);
    }
    return cm::loss_from<T>(tree_sum(rs), tree_sum(cs), static_cast<cm::acc_t<T>>(all ? positives : n));
  }

  void backward_pooled(T upstream, ecgssl::tensor<T, 2>& dg) {
    const bool all = options.reduction == ecgssl::cmsc_reduction::all_positives;
    const T half = upstream * T(0.5) / static_cast<T>(all ? positives : n);
    std::vector<T> dlogits(n * n);
    for (std::size_t e = 0; e < n * n; ++e) {
      dlogits[e] = cm::dlogit(all, half, positive[e], row_pos[e / n], col_pos[e % n], row_probs[e], col_probs[e]);
    }
    std::vector<T> d_hat(2 * n * dim, T(5));  // beta = 0 must overwrite
    const T inv_tau = static_cast<T>(1.0 / options.temperature);
    const auto ni = static_cast<std::int64_t>(n), di = static_cast<std::int64_t>(dim);
    ecgssl::cuda_detail::run_on_host(cm::hat_a_grad_plan(ni, di), inv_tau, hat.data(), dlogits.data(), T(0), d_hat.data());
    ecgssl::cuda_detail::run_on_host(cm::hat_b_grad_plan(ni, di), inv_tau, hat.data(), dlogits.data(), T(0), d_hat.data());
    const T eps = static_cast<T>(options.norm_eps);
    for (std::size_t e = 0; e < 2 * n * dim; ++e) {
      const std::size_t r = e / dim, c = e % dim;
      dg.data()[static_cast<std::size_t>(cm::stacked_source(r, n, first.data(), second.data())) * dim + c] +=
          d_hat[e] * cm::inverse_norm(norms[r], eps);
    }
  }
};

template <class T, std::size_t N>
ecgssl::tensor<T, N> random_tensor(const std::array<std::size_t, N>& shape, std::uint64_t stream, double scale = 1.0) {
  return gpu_test::random_tensor<T, N>(91, shape, stream, scale);
}
using gpu_test::relative_difference;

template <class T>
double tolerance() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

// Pairs k = 0..pairs-1, the two segments of pair k with record id records[k]; the segment order
// alternates so that A and B rows interleave in batch order.
void make_targets(std::size_t pairs, const std::vector<std::int64_t>& records, std::vector<std::int64_t>& ids,
                  std::vector<std::int64_t>& segments) {
  ids.clear();
  segments.clear();
  for (std::size_t k = 0; k < pairs; ++k) {
    const std::int64_t s0 = static_cast<std::int64_t>(k % 2);
    ids.push_back(records[k]);
    segments.push_back(s0);
    ids.push_back(records[k]);
    segments.push_back(1 - s0);
  }
}

template <class T>
void check_against_host(std::size_t pairs, std::size_t frames, std::size_t dim, const std::vector<std::int64_t>& records,
                        ecgssl::cmsc_options options, std::uint64_t seed) {
  std::vector<std::int64_t> ids, segments;
  make_targets(pairs, records, ids, segments);
  auto x = random_tensor<T, 3>({2 * pairs, frames, dim}, seed, 2.0);
  // Exact zeros change the pooling divisor; one all-zero column pools to 0 with divisor 1.
  for (std::size_t i = 0; i < x.size(); i += 5) x.data()[i] = T(0);
  for (std::size_t t = 0; t < frames; ++t) x(1, t, dim - 1) = T(0);

  ecgssl::cmsc_loss<T> host(options);
  host.set_targets(ids, segments);
  const T host_loss = host.forward(x);
  auto host_grad = random_tensor<T, 3>({2 * pairs, frames, dim}, seed + 1);
  auto emu_grad = host_grad;
  host.backward(T(0.7), host_grad);

  emulated_cmsc<T> emu(ids, segments, options);
  CHECK(emu.positives == host.positives());
  ecgssl::tensor<T, 2> pooled({2 * pairs, dim}), counts({2 * pairs, dim});
  for (std::size_t s = 0; s < 2 * pairs; ++s) {
    for (std::size_t d = 0; d < dim; ++d) cm::pool_column(x.data(), frames, dim, s, d, &pooled(s, d), &counts(s, d));
  }
  CHECK(relative_difference(pooled.data(), host.pooled().data(), pooled.size()) == 0.0);
  CHECK(counts(1, dim - 1) == T(1));
  CHECK(pooled(1, dim - 1) == T(0));
  const T loss = emu.forward_pooled(pooled);
  CHECK(relative_difference(emu.logits.data(), host.logits().data(), emu.logits.size()) <= tolerance<T>());
  CHECK(std::abs(static_cast<double>(loss) - host_loss) <= tolerance<T>() * std::abs(static_cast<double>(host_loss)));
  ecgssl::tensor<T, 2> dpooled({2 * pairs, dim});
  dpooled.fill(T(0));
  emu.backward_pooled(T(0.7), dpooled);
  for (std::size_t i = 0; i < emu_grad.size(); ++i) {
    const std::size_t d = i % dim, s = i / (frames * dim);
    emu_grad.data()[i] += cm::pool_gradient(dpooled(s, d), counts(s, d));
  }
  CHECK(relative_difference(emu_grad.data(), host_grad.data(), host_grad.size()) <= tolerance<T>());
}

}  // namespace

TEST_CASE_TEMPLATE("cmsc cuda math equals the host cmsc_loss, both reductions, extra positives", T, float, double) {
  for (const auto reduction : {ecgssl::cmsc_reduction::all_positives, ecgssl::cmsc_reduction::per_row_mean}) {
    CAPTURE(static_cast<int>(reduction));
    ecgssl::cmsc_options options;
    options.reduction = reduction;
    // One record per pair.
    check_against_host<T>(5, 4, 7, {10, 11, 12, 13, 14}, options, 1);
    // Pairs 1 and 3 (and 0, 2, 4) from one record each: extra positives, rows with 2 and 3.
    options.temperature = 0.5;
    check_against_host<T>(5, 3, 6, {20, 21, 20, 21, 20}, options, 3);
  }
  // all_positives also allows a first segment with no partner in the second segments: here
  // every record id differs but pairs 0/1 share one, so rows have 0, 1 or 2 positives.
  ecgssl::cmsc_options options;
  check_against_host<T>(6, 2, 5, {1, 1, 2, 3, 4, 5}, options, 5);
}

TEST_CASE_TEMPLATE("cmsc cuda math with more than `lanes` rows and dims (multi-element lanes)", T, float, double) {
  ecgssl::cmsc_options options;
  std::vector<std::int64_t> records(300);
  for (std::size_t k = 0; k < records.size(); ++k) records[k] = static_cast<std::int64_t>(k % 290);
  check_against_host<T>(300, 1, 300, records, options, 7);
}

TEST_CASE("cmsc cuda math by hand: two orthogonal pairs at tau 1") {
  // A = {e0, e1}, B = {e0, e1}: Λ = I; each row/column softmax gives the positive e/(e + 1),
  // so L = -log(e / (e + 1)) = log(1 + 1/e).
  std::vector<std::int64_t> ids{0, 0, 1, 1}, segments{0, 1, 0, 1};
  ecgssl::cmsc_options options;
  options.temperature = 1.0;
  emulated_cmsc<double> emu(ids, segments, options);
  ecgssl::tensor<double, 2> g({4, 2});
  g.fill(0.0);
  g(0, 0) = 3.0;
  g(1, 0) = 0.5;
  g(2, 1) = 2.0;
  g(3, 1) = 7.0;
  CHECK(emu.forward_pooled(g) == doctest::Approx(std::log(1.0 + std::exp(-1.0))).epsilon(1e-14));
  CHECK(emu.logits == std::vector<double>{1.0, 0.0, 0.0, 1.0});
}

// The losses on the cuda backend vs the same losses on the host (the oracle, itself checked
// against PyTorch fixtures and finite differences in tests/loss): same value and same input
// gradients for every ported option, on small random inputs and one realistic size. Gradients
// are accumulated into non-zero buffers twice, so accumulation is exercised. Tolerances are
// relative to the largest magnitude of the host buffer.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/cmsc_loss.cuh>
#include <ecgssl/cuda/device_tensor.cuh>

namespace {

using ecgssl::device_tensor;
using ecgssl::tensor;

template <class T, std::size_t N>
tensor<T, N> random_tensor(const std::array<std::size_t, N>& shape, std::uint64_t stream, double scale = 1.0) {
  const ecgssl::random_stream rng(515, stream);
  tensor<T, N> t(shape);
  for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>((2.0 * rng.uniform(i) - 1.0) * scale);
  return t;
}

template <class T>
double relative_difference(const T* device, const T* host, std::size_t n) {
  double diff = 0, mag = 1e-30;
  for (std::size_t i = 0; i < n; ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(device[i]) - static_cast<double>(host[i])));
    mag = std::max(mag, std::abs(static_cast<double>(host[i])));
  }
  return diff / mag;
}

template <class T>
double tol(double for_float, double for_double) {
  return std::is_same_v<T, float> ? for_float : for_double;
}

// Pair k's two segments carry records[k]; segment order alternates so A and B interleave.
void make_targets(std::size_t pairs, const std::vector<std::int64_t>& records, std::vector<std::int64_t>& ids,
                  std::vector<std::int64_t>& segments) {
  ids.clear();
  segments.clear();
  for (std::size_t k = 0; k < pairs; ++k) {
    const auto s0 = static_cast<std::int64_t>(k % 2);
    ids.push_back(records[k]);
    segments.push_back(s0);
    ids.push_back(records[k]);
    segments.push_back(1 - s0);
  }
}

template <class T>
void check_cmsc(std::size_t pairs, std::size_t frames, std::size_t dim, const std::vector<std::int64_t>& records,
                ecgssl::cmsc_options options, std::uint64_t seed) {
  CAPTURE(pairs);
  CAPTURE(dim);
  CAPTURE(static_cast<int>(options.reduction));
  std::vector<std::int64_t> ids, segments;
  make_targets(pairs, records, ids, segments);
  auto x = random_tensor<T, 3>({2 * pairs, frames, dim}, seed, 2.0);
  for (std::size_t i = 0; i < x.size(); i += 5) x.data()[i] = T(0);  // changes pooling divisors
  ecgssl::cmsc_loss<T, ecgssl::host> h(options);
  ecgssl::cmsc_loss<T, ecgssl::cuda> d(options);
  h.set_targets(ids, segments);
  d.set_targets(ids, segments);
  CHECK(d.positives() == h.positives());

  // Encoder-output form.
  const T hl = h.forward(x);
  const device_tensor<T, 3> dx(x);
  const T dl = d.forward(dx);
  CHECK(relative_difference(d.pooled().to_host().data(), h.pooled().data(), h.pooled().size()) <= tol<T>(1e-6, 1e-14));
  CHECK(relative_difference(d.logits().to_host().data(), h.logits().data(), h.logits().size()) <= tol<T>(1e-5, 1e-12));
  CHECK(std::abs(static_cast<double>(dl) - hl) <= tol<T>(1e-5, 1e-12) * std::abs(static_cast<double>(hl)));
  auto hg = random_tensor<T, 3>({2 * pairs, frames, dim}, seed + 1);
  device_tensor<T, 3> dg(hg);
  for (int pass = 0; pass < 2; ++pass) {
    h.backward(T(0.75), hg);
    d.backward(T(0.75), dg);
  }
  const auto back = dg.to_host();
  CHECK(relative_difference(back.data(), hg.data(), hg.size()) <= tol<T>(2e-5, 1e-11));

  // Pooled form.
  const auto g = random_tensor<T, 2>({2 * pairs, dim}, seed + 2);
  const T hp = h.forward_pooled(g);
  const device_tensor<T, 2> dgp(g);
  const T dp = d.forward_pooled(dgp);
  CHECK(std::abs(static_cast<double>(dp) - hp) <= tol<T>(1e-5, 1e-12) * std::abs(static_cast<double>(hp)));
  auto hgg = random_tensor<T, 2>({2 * pairs, dim}, seed + 3);
  device_tensor<T, 2> dgg(hgg);
  h.backward_pooled(T(-1.5), hgg);
  d.backward_pooled(T(-1.5), dgg);
  const auto backp = dgg.to_host();
  CHECK(relative_difference(backp.data(), hgg.data(), hgg.size()) <= tol<T>(2e-5, 1e-11));
}

}  // namespace

TEST_SUITE("with_device") {
  TEST_CASE_TEMPLATE("cmsc_loss on cuda matches the host loss, both reductions, extra positives", T, float, double) {
    for (const auto reduction : {ecgssl::cmsc_reduction::all_positives, ecgssl::cmsc_reduction::per_row_mean}) {
      ecgssl::cmsc_options options;
      options.reduction = reduction;
      check_cmsc<T>(5, 4, 7, {10, 11, 12, 13, 14}, options, 1);
      options.temperature = 0.5;
      options.norm_eps = 1e-3;
      check_cmsc<T>(5, 3, 6, {20, 21, 20, 21, 20}, options, 11);
    }
    ecgssl::cmsc_options options;  // all_positives: rows with 0, 1 or 2 positives
    check_cmsc<T>(6, 2, 5, {1, 1, 2, 3, 4, 5}, options, 21);
  }

  TEST_CASE_TEMPLATE("cmsc_loss on cuda matches the host loss at a realistic size (64 pairs x 256 dims) and past 256 lanes",
                     T, float, double) {
    std::vector<std::int64_t> records(64);
    for (std::size_t k = 0; k < records.size(); ++k) records[k] = static_cast<std::int64_t>(k);
    records[40] = 3;  // one record giving two pairs
    check_cmsc<T>(64, 8, 256, records, {}, 31);
    std::vector<std::int64_t> many(300);
    for (std::size_t k = 0; k < many.size(); ++k) many[k] = static_cast<std::int64_t>(k % 290);
    ecgssl::cmsc_options per_row;
    per_row.reduction = ecgssl::cmsc_reduction::per_row_mean;
    check_cmsc<T>(300, 2, 300, many, per_row, 41);
  }

  TEST_CASE("cmsc_loss on cuda: the host's errors, the unported form refused, deterministic results") {
    using cuda_cmsc = ecgssl::cmsc_loss<float, ecgssl::cuda>;
    ecgssl::cmsc_options nt;
    nt.form = ecgssl::cmsc_form::nt_xent_2n;
    CHECK_THROWS_WITH_AS(cuda_cmsc{nt}, doctest::Contains("cross_segment"),
                         ecgssl::config_error);
    ecgssl::cmsc_options bad_tau;
    bad_tau.temperature = 0;
    CHECK_THROWS_AS(cuda_cmsc{bad_tau}, ecgssl::config_error);

    ecgssl::cmsc_loss<float, ecgssl::cuda> d;
    const std::vector<std::int64_t> ids{1, 1, 2, 2}, bad_segments{0, 1, 0, 2}, unbalanced{0, 0, 0, 1};
    const device_tensor<float, 2> g4(random_tensor<float, 2>({4, 3}, 1));
    const device_tensor<float, 2> g6(random_tensor<float, 2>({6, 3}, 1));
    CHECK_THROWS_AS(d.forward_pooled(g4), ecgssl::config_error);  // before set_targets
    CHECK_THROWS_WITH_AS(d.set_targets(ids, bad_segments), doctest::Contains("at row 3"), ecgssl::data_error);
    CHECK_THROWS_AS(d.set_targets(ids, unbalanced), ecgssl::data_error);
    const std::vector<std::int64_t> other_ids{1, 2, 3, 4}, segments{0, 1, 0, 1};
    CHECK_THROWS_WITH_AS(d.set_targets(other_ids, segments), doctest::Contains("no first/second"), ecgssl::data_error);
    d.set_targets(ids, segments);
    CHECK_THROWS_AS(d.forward_pooled(g6), ecgssl::shape_error);

    auto x = random_tensor<float, 3>({4, 3, 5}, 2);
    const device_tensor<float, 3> dx(x);
    const float first = d.forward(dx);
    device_tensor<float, 3> g1(std::array<std::size_t, 3>{4, 3, 5});
    g1.zero();
    d.backward(1.0f, g1);
    const float second = d.forward(dx);
    device_tensor<float, 3> g2(std::array<std::size_t, 3>{4, 3, 5});
    g2.zero();
    d.backward(1.0f, g2);
    CHECK(first == second);
    const auto a = g1.to_host(), b = g2.to_host();
    CHECK(std::equal(a.begin(), a.end(), b.begin()));

    x(2, 1, 3) = std::numeric_limits<float>::quiet_NaN();
    const device_tensor<float, 3> with_nan(x);
    CHECK_THROWS_WITH_AS(d.forward(with_nan), doctest::Contains("flat index 38"), ecgssl::data_error);

    ecgssl::cmsc_options per_row;
    per_row.reduction = ecgssl::cmsc_reduction::per_row_mean;
    ecgssl::cmsc_loss<float, ecgssl::cuda> pr(per_row);
    const std::vector<std::int64_t> partial_ids{1, 1, 2, 3}, partial_segments{0, 1, 0, 1};
    pr.set_targets(partial_ids, partial_segments);
    CHECK_THROWS_WITH_AS(pr.forward_pooled(g4),
                         doctest::Contains("no partner"), ecgssl::data_error);
  }
}  // TEST_SUITE with_device

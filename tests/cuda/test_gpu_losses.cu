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
#include <ecgssl/cuda/wav2vec2_contrastive.cuh>

#include "gpu_test_support.hpp"

namespace {

using ecgssl::device_tensor;
using ecgssl::tensor;

template <class T, std::size_t N>
tensor<T, N> random_tensor(const std::array<std::size_t, N>& shape, std::uint64_t stream, double scale = 1.0) {
  return gpu_test::random_tensor<T, N>(515, shape, stream, scale);
}
using gpu_test::relative_difference;
using gpu_test::tol;

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

template <class T>
void check_w2v(std::size_t segments, std::size_t masked, std::size_t dim, std::size_t k,
               ecgssl::identical_negatives identical, std::uint64_t seed) {
  CAPTURE(segments);
  CAPTURE(dim);
  CAPTURE(static_cast<int>(identical));
  ecgssl::contrastive_input<T> in{random_tensor<T, 3>({segments, masked, dim}, seed),
                                  random_tensor<T, 3>({segments, masked, dim}, seed + 1)};
  for (std::size_t d = 0; d < dim; ++d) in.targets(0, 3, d) = in.targets(0, 1, d);  // identical targets
  tensor<std::int64_t, 2> codes({segments, masked});
  for (std::size_t i = 0; i < codes.size(); ++i) codes.data()[i] = static_cast<std::int64_t>(i);
  codes(0, 3) = codes(0, 1);
  ecgssl::wav2vec2_contrastive_options options;
  options.num_negatives = k;
  options.identical = identical;
  options.seed = 17;
  ecgssl::wav2vec2_contrastive<T, ecgssl::host> h(options);
  ecgssl::wav2vec2_contrastive<T, ecgssl::cuda> d(options);
  h.set_step(4);
  d.set_step(4);
  h.set_target_codes(codes);
  d.set_target_codes(codes);
  const T hl = h.forward(in);
  typename ecgssl::wav2vec2_contrastive<T, ecgssl::cuda>::input_type din{device_tensor<T, 3>(in.predictions),
                                                                         device_tensor<T, 3>(in.targets)};
  const T dl = d.forward(din);
  CHECK(d.sample_size() == h.sample_size());
  CHECK(std::equal(d.negatives().begin(), d.negatives().end(), h.negatives().begin(), h.negatives().end()));
  CHECK(std::abs(static_cast<double>(dl) - hl) <= tol<T>(1e-5, 1e-12) * std::abs(static_cast<double>(hl)));
  const auto probs = d.probabilities().to_host();
  CHECK(relative_difference(probs.data(), h.probabilities().data(), probs.size()) <= tol<T>(2e-5, 1e-12));
  const auto frames = d.frame_losses().to_host();
  CHECK(relative_difference(frames.data(), h.frame_losses().data(), frames.size()) <= tol<T>(2e-5, 1e-12));
  ecgssl::contrastive_input<T> hg{random_tensor<T, 3>({segments, masked, dim}, seed + 2),
                                  random_tensor<T, 3>({segments, masked, dim}, seed + 3)};
  typename ecgssl::wav2vec2_contrastive<T, ecgssl::cuda>::input_type dg{device_tensor<T, 3>(hg.predictions),
                                                                        device_tensor<T, 3>(hg.targets)};
  for (int pass = 0; pass < 2; ++pass) {
    h.backward(T(0.5), hg);
    d.backward(T(0.5), dg);
  }
  const auto gc = dg.predictions.to_host();
  const auto gq = dg.targets.to_host();
  CHECK(relative_difference(gc.data(), hg.predictions.data(), gc.size()) <= tol<T>(5e-5, 1e-11));
  CHECK(relative_difference(gq.data(), hg.targets.data(), gq.size()) <= tol<T>(5e-5, 1e-11));
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

  TEST_CASE_TEMPLATE("wav2vec2_contrastive on cuda matches the host loss, same negatives, every identical mode", T,
                     float, double) {
    for (const auto mode : {ecgssl::identical_negatives::by_value, ecgssl::identical_negatives::by_code,
                            ecgssl::identical_negatives::keep}) {
      check_w2v<T>(3, 6, 10, 20, mode, 1);  // K > M: repeated negatives
    }
    check_w2v<T>(2, 12, 300, 5, ecgssl::identical_negatives::by_value, 7);  // dim past 256 lanes
    check_w2v<T>(16, 60, 256, 100, ecgssl::identical_negatives::by_value, 9);  // realistic: K = 100, 256 dims
  }

  TEST_CASE("wav2vec2_contrastive on cuda: injected negatives and the host's errors") {
    using cuda_w2v = ecgssl::wav2vec2_contrastive<float, ecgssl::cuda>;
    ecgssl::wav2vec2_contrastive_options zero_k;
    zero_k.num_negatives = 0;
    CHECK_THROWS_AS(cuda_w2v{zero_k}, ecgssl::config_error);
    ecgssl::wav2vec2_contrastive_options options;
    options.num_negatives = 2;
    ecgssl::wav2vec2_contrastive<float, ecgssl::host> h(options);
    cuda_w2v d(options);
    ecgssl::contrastive_input<float> in{random_tensor<float, 3>({1, 3, 4}, 5), random_tensor<float, 3>({1, 3, 4}, 6)};
    tensor<std::int64_t, 3> neg({1, 3, 2});
    const std::int64_t values[6] = {1, 2, 0, 0, 1, 0};
    std::copy(values, values + 6, neg.data());
    h.set_negatives(neg);
    d.set_negatives(neg);
    const float hl = h.forward(in);
    cuda_w2v::input_type din{device_tensor<float, 3>(in.predictions), device_tensor<float, 3>(in.targets)};
    const float dl = d.forward(din);
    CHECK(std::abs(dl - hl) <= 1e-5f * std::abs(hl));
    neg(0, 1, 1) = 1;  // frame 1 as its own negative
    d.set_negatives(neg);
    CHECK_THROWS_WITH_AS(d.forward(din), doctest::Contains("flat position 3"), ecgssl::data_error);
    d.clear_negatives();
    in.targets(0, 2, 1) = std::numeric_limits<float>::infinity();
    cuda_w2v::input_type bad{device_tensor<float, 3>(in.predictions), device_tensor<float, 3>(in.targets)};
    CHECK_THROWS_WITH_AS(d.forward(bad), doctest::Contains("flat index 9"), ecgssl::data_error);
    cuda_w2v::input_type one_frame{device_tensor<float, 3>(std::array<std::size_t, 3>{1, 1, 4}),
                                   device_tensor<float, 3>(std::array<std::size_t, 3>{1, 1, 4})};
    CHECK_THROWS_AS(d.forward(one_frame), ecgssl::shape_error);
  }
}  // TEST_SUITE with_device

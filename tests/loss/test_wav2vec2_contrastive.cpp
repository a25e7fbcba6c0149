#include <ecgssl/core/concepts.hpp>
#include <ecgssl/loss/wav2vec2_contrastive.hpp>

#include <doctest/doctest.h>

#include <map>

#include "loss_test_support.hpp"

using namespace ecgssl;
using namespace ecgssl::testing;

static_assert(loss_function<wav2vec2_contrastive<float>>);
static_assert(loss_function<wav2vec2_contrastive<double>>);

namespace {
template <class T>
contrastive_input<T> fixture_input() {
  return {load_tensor<T, 3>("w2v_c"), load_tensor<T, 3>("w2v_q")};
}
template <class T>
contrastive_input<T> zeros_like(const contrastive_input<T>& in) {
  return {xt::zeros<T>(in.predictions.shape()), xt::zeros<T>(in.targets.shape())};
}
wav2vec2_contrastive_options fixture_options(identical_negatives mode) {
  wav2vec2_contrastive_options options;
  options.num_negatives = 5;
  options.identical = mode;
  return options;
}
}  // namespace

TEST_CASE("wav2vec2_contrastive matches PyTorch with fixed negatives") {
  const auto negatives = load_tensor<std::int64_t, 3>("w2v_negatives");
  const auto codes = load_tensor<std::int64_t, 2>("w2v_codes");
  struct variant {
    identical_negatives mode;
    const char* tag;
  };
  for (auto v : {variant{identical_negatives::by_value, "masked"}, variant{identical_negatives::by_code, "masked"},
                 variant{identical_negatives::keep, "keep"}}) {
    CAPTURE(static_cast<int>(v.mode));
    const std::string prefix = std::string("w2v_") + v.tag + "_";
    wav2vec2_contrastive<double> loss(fixture_options(v.mode));
    loss.set_negatives(negatives);
    loss.set_target_codes(codes);
    auto in = fixture_input<double>();
    CHECK(relative(loss.forward(in), load_scalar(prefix + "loss")) < 1e-12);
    CHECK(loss.sample_size() == 18);
    auto grad = zeros_like(in);
    loss.backward(1.0, grad);
    CHECK(scaled_difference(grad.predictions, load_tensor<double, 3>(prefix + "grad_c")) < 1e-10);
    CHECK(scaled_difference(grad.targets, load_tensor<double, 3>(prefix + "grad_q")) < 1e-10);

    // float with code-decided masking agrees with the float64 reference to 1e-5.
    if (v.mode != identical_negatives::by_value) {
      wav2vec2_contrastive<float> single(fixture_options(v.mode));
      single.set_negatives(negatives);
      single.set_target_codes(codes);
      auto in_f = fixture_input<float>();
      CHECK(relative(single.forward(in_f), load_scalar(prefix + "loss")) < 1e-5);
      auto grad_f = zeros_like(in_f);
      single.backward(1.0f, grad_f);
      CHECK(scaled_difference(grad_f.predictions, load_tensor<double, 3>(prefix + "grad_c")) < 1e-5);
      CHECK(scaled_difference(grad_f.targets, load_tensor<double, 3>(prefix + "grad_q")) < 1e-5);
    }
  }
}

TEST_CASE("wav2vec2_contrastive gives -inf logits (probability 0) exactly to identical negatives") {
  wav2vec2_contrastive<double> loss(fixture_options(identical_negatives::by_value));
  const auto negatives = load_tensor<std::int64_t, 3>("w2v_negatives");
  loss.set_negatives(negatives);
  auto in = fixture_input<double>();
  loss.forward(in);
  // Fixture: q[0,4] == q[0,2] and q[2,1] == q[2,5].
  std::size_t masked_count = 0;
  for (std::size_t s = 0; s < 3; ++s) {
    for (std::size_t t = 0; t < 6; ++t) {
      for (std::size_t k = 0; k < 5; ++k) {
        const auto n = negatives(s, t, k);
        const bool same = (s == 0 && ((t == 4 && n == 2) || (t == 2 && n == 4))) ||
                          (s == 2 && ((t == 1 && n == 5) || (t == 5 && n == 1)));
        CHECK((loss.probabilities()(s, t, k + 1) == 0.0) == same);
        masked_count += same ? 1 : 0;
      }
    }
  }
  CHECK(masked_count >= 3);
}

TEST_CASE("wav2vec2_contrastive gradient matches finite differences") {
  for (auto mode : {identical_negatives::keep, identical_negatives::by_code}) {
    wav2vec2_contrastive<double> loss(fixture_options(mode));
    loss.set_negatives(load_tensor<std::int64_t, 3>("w2v_negatives"));
    loss.set_target_codes(load_tensor<std::int64_t, 2>("w2v_codes"));
    auto in = fixture_input<double>();
    loss.forward(in);
    auto grad = zeros_like(in);
    loss.backward(1.0, grad);
    auto f = [&] { return loss.forward(in); };
    CHECK(check_gradient(as_span(in.predictions), as_span(std::as_const(grad.predictions)), f, "c").max_relative_error < 1e-5);
    CHECK(check_gradient(as_span(in.targets), as_span(std::as_const(grad.targets)), f, "q").max_relative_error < 1e-5);
  }
}

TEST_CASE("wav2vec2_contrastive samples negatives by the spec's rule, keyed by step and segment") {
  wav2vec2_contrastive_options options;
  options.num_negatives = 100;
  options.seed = 42;
  wav2vec2_contrastive<float> loss(options);
  const std::size_t segments = 4, masked = 7;
  loss.set_step(3);
  loss.sample_negatives(segments, masked);
  const auto first = loss.negatives();
  std::map<std::int64_t, int> histogram;
  for (std::size_t s = 0; s < segments; ++s) {
    const random_stream rng(42, stream_id({static_cast<std::uint64_t>(rng_purpose::negatives), 3, s}));
    for (std::size_t t = 0; t < masked; ++t) {
      for (std::size_t k = 0; k < 100; ++k) {
        // Independent restatement: r in [0, M-2], +1 when r >= t.
        std::uint32_t r = static_cast<std::uint32_t>((static_cast<std::uint64_t>(rng.bits(t * 100 + k)) * (masked - 1)) >> 32);
        const std::int64_t expected = r >= t ? r + 1 : r;
        CHECK(first(s, t, k) == expected);
        CHECK(first(s, t, k) != static_cast<std::int64_t>(t));
        if (t == 3) histogram[first(s, t, k)]++;
      }
    }
  }
  CHECK(histogram.size() == masked - 1);  // every other frame drawn, never the frame itself
  loss.set_step(4);
  loss.sample_negatives(segments, masked);
  CHECK(loss.negatives() != first);
  loss.set_step(3);
  set_threads(1);
  loss.sample_negatives(segments, masked);
  CHECK(loss.negatives() == first);
  set_threads(max_threads());
}

TEST_CASE("wav2vec2_contrastive rejects bad negatives, codes and too few frames") {
  wav2vec2_contrastive<double> loss(fixture_options(identical_negatives::by_code));
  auto in = fixture_input<double>();
  auto negatives = load_tensor<std::int64_t, 3>("w2v_negatives");
  negatives(0, 1, 0) = 1;  // the frame itself
  loss.set_negatives(negatives);
  CHECK_THROWS_AS(loss.forward(in), data_error);
  loss.clear_negatives();
  CHECK_THROWS_AS(loss.forward(in), shape_error);  // by_code without codes
  wav2vec2_contrastive<double> plain;
  contrastive_input<double> one{xt::ones<double>({2, 1, 4}), xt::ones<double>({2, 1, 4})};
  CHECK_THROWS_AS(plain.forward(one), shape_error);
  contrastive_input<double> empty{xt::ones<double>({0, 3, 4}), xt::ones<double>({0, 3, 4})};
  CHECK_THROWS_AS(plain.forward(empty), shape_error);
  contrastive_input<double> mismatched{xt::ones<double>({2, 3, 4}), xt::ones<double>({2, 3, 5})};
  CHECK_THROWS_AS(plain.forward(mismatched), shape_error);
}

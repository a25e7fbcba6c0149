#include <ecgssl/metrics/challenge_score.hpp>

#include <doctest/doctest.h>

#include <vector>

using ecgssl::tensor;
using ecgssl::metrics::challenge_score;
using ecgssl::metrics::compute_challenge_score;

namespace {
// 3 classes, class 2 inactive.
const std::vector<double> small_weights{1.0, 0.5, 0.0,  //
                                        0.5, 1.0, 0.25,  //
                                        0.0, 0.25, 1.0};
}  // namespace

TEST_CASE("challenge score of a hand-computed three-class case") {
  // r1: {0} -> {0}; r2: {0,1} -> {1}; r3: {2} -> {}.
  const tensor<int, 2> labels = {{1, 0, 0}, {1, 1, 0}, {0, 0, 1}};
  const tensor<int, 2> predictions = {{1, 0, 0}, {0, 1, 0}, {0, 0, 0}};
  challenge_score score(small_weights, 3, 2);
  score.add(labels, predictions);
  // A_obs: [0,0] = 1, [0,1] = 1/2, [1,1] = 1/2 -> S = 1 + 0.25 + 0.5.
  CHECK(score.observed_score() == doctest::Approx(1.75).epsilon(1e-15));
  // A_correct: r1 [0,0] += 1; r2 all of {0,1}x{0,1} += 1/2; r3 [2,2] += 1 -> 1 + 1.5 + 1.
  CHECK(score.correct_score() == doctest::Approx(3.5).epsilon(1e-15));
  // A_inactive: r1 [0,2] += 1/2 (w 0); r2 [0,2], [1,2] += 1/3 (w 0, 0.25); r3 [2,2] += 1.
  CHECK(score.inactive_score() == doctest::Approx(13.0 / 12.0).epsilon(1e-15));
  CHECK(score.value() == doctest::Approx(8.0 / 29.0).epsilon(1e-14));
  CHECK(score.records() == 3);
  CHECK(score.confusion()[0 * 3 + 1] == doctest::Approx(0.5));
}

TEST_CASE("challenge score accumulates over batches like one pass over the set") {
  const tensor<int, 2> labels = {{1, 0, 0}, {1, 1, 0}, {0, 0, 1}};
  const tensor<int, 2> predictions = {{1, 0, 0}, {0, 1, 0}, {0, 0, 0}};
  challenge_score batched(small_weights, 3, 2);
  const tensor<int, 2> l1 = {{1, 0, 0}};
  const tensor<int, 2> p1 = {{1, 0, 0}};
  const tensor<int, 2> l2 = {{1, 1, 0}, {0, 0, 1}};
  const tensor<int, 2> p2 = {{0, 1, 0}, {0, 0, 0}};
  batched.add(l1, p1);
  batched.add(l2, p2);
  CHECK(batched.value() == doctest::Approx(8.0 / 29.0).epsilon(1e-14));
  batched.reset();
  CHECK(batched.records() == 0);
  CHECK(batched.value() == 0.0);  // 0 / 0 -> 0 by definition
}

TEST_CASE("challenge score is 1 for the labels, 0 for the inactive model, 0 for a zero denominator") {
  const tensor<double, 2> labels = {{1, 0, 0}, {0, 1, 1}};
  challenge_score perfect(small_weights, 3, 2);
  perfect.add(labels, labels);
  CHECK(perfect.value() == doctest::Approx(1.0));

  const tensor<double, 2> inactive = {{0, 0, 1}, {0, 0, 1}};
  challenge_score baseline(small_weights, 3, 2);
  baseline.add(labels, inactive);
  CHECK(baseline.value() == doctest::Approx(0.0));

  // Every record labelled only with the inactive class: S(labels) == S(inactive).
  const tensor<double, 2> only_inactive = {{0, 0, 1}, {0, 0, 1}};
  const tensor<double, 2> wrong = {{1, 0, 0}, {0, 1, 0}};
  challenge_score degenerate(small_weights, 3, 2);
  degenerate.add(only_inactive, wrong);
  CHECK(degenerate.value() == 0.0);
}

TEST_CASE("challenge score uses the Challenge 2021 weights with sinus rhythm inactive") {
  // One record labelled AF (0), predicted AFL (1): n = 2, A[0,1] = 1/2, W[0][1] = 0.5.
  // Inactive: {AF} u {NSR} -> n = 2, A[0,14] = 1/2, W[0][14] = 0.25. Correct: W[0][0] = 1.
  tensor<float, 2> labels = ecgssl::tensor<float, 2>::from_shape({1, 26});
  labels.fill(0.0f);
  tensor<float, 2> predictions = labels;
  labels(0, 0) = 1.0f;
  predictions(0, 1) = 1.0f;
  CHECK(compute_challenge_score(labels, predictions) == doctest::Approx((0.25 - 0.125) / (1.0 - 0.125)).epsilon(1e-14));
}

TEST_CASE("challenge score rejects non-binary decisions and mismatched shapes") {
  challenge_score score(small_weights, 3, 2);
  const tensor<double, 2> labels = {{1, 0, 0}};
  const tensor<double, 2> probabilities = {{0.7, 0.1, 0.2}};
  CHECK_THROWS_AS(score.add(labels, probabilities), ecgssl::data_error);
  const tensor<double, 2> two_rows = {{1, 0, 0}, {0, 1, 0}};
  CHECK_THROWS_AS(score.add(labels, two_rows), ecgssl::shape_error);
  const tensor<double, 2> four_classes = {{1, 0, 0, 0}};
  CHECK_THROWS_AS(score.add(four_classes, four_classes), ecgssl::shape_error);
  CHECK_THROWS_AS(challenge_score(small_weights, 3, 3), ecgssl::config_error);
  CHECK_THROWS_AS(challenge_score(small_weights, 2, 0), ecgssl::shape_error);
}

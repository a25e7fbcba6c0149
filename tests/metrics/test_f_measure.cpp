#include <ecgssl/metrics/f_measure.hpp>

#include <doctest/doctest.h>

#include <cmath>

using ecgssl::tensor;
using namespace ecgssl::metrics;

TEST_CASE("F-measure per class, NaN for classes never labelled nor predicted, macro over the rest") {
  // class 0: TP 1, FP 0, FN 1 -> 2/3; class 1: TP 1, FP 1, FN 0 -> 2/3; class 2: 0/0 -> NaN;
  // class 3: TP 0, FP 1, FN 0 -> 0.
  const tensor<int, 2> labels = {{1, 0, 0, 0}, {1, 1, 0, 0}, {0, 0, 0, 0}};
  const tensor<int, 2> predictions = {{1, 1, 0, 0}, {0, 1, 0, 0}, {0, 0, 0, 1}};
  const auto f = challenge_f_measure(labels, predictions);
  CHECK(f.per_class[0] == doctest::Approx(2.0 / 3.0));
  CHECK(f.per_class[1] == doctest::Approx(2.0 / 3.0));
  CHECK(std::isnan(f.per_class[2]));
  CHECK(f.per_class[3] == 0.0);
  CHECK(f.macro == doctest::Approx(4.0 / 9.0));

  const tensor<int, 2> nothing = {{0, 0}};
  CHECK(std::isnan(challenge_f_measure(nothing, nothing).macro));
}

TEST_CASE("accuracy counts records whose whole label vector is predicted exactly") {
  const tensor<int, 2> labels = {{1, 0, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 1}};
  const tensor<int, 2> predictions = {{1, 0, 0}, {1, 0, 0}, {0, 0, 0}, {0, 1, 1}};
  CHECK(exact_match_accuracy(labels, predictions) == doctest::Approx(0.5));
  CHECK(exact_match_accuracy(labels, labels) == 1.0);
  const tensor<double, 2> soft = {{0.2, 0, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 1}};
  CHECK_THROWS_AS((void)exact_match_accuracy(labels, soft), ecgssl::data_error);
  const tensor<int, 2> empty = tensor<int, 2>::from_shape({0, 3});
  CHECK_THROWS_AS((void)exact_match_accuracy(empty, empty), ecgssl::data_error);
}

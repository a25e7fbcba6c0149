#include <ecgssl/metrics/auc_scores.hpp>

#include <doctest/doctest.h>

#include <cmath>

using ecgssl::tensor;
using namespace ecgssl::metrics;

TEST_CASE("challenge AUROC and AUPRC of a hand-computed case with ties and undefined classes") {
  // Class 0: scores 0.9(+) 0.8(-) 0.8(+) 0.3(-). Thresholds 0.9, 0.8, 0.3:
  //   (TPR, TNR, PPV) = (1/2, 1, 1), (1, 1/2, 2/3), (1, 0, 1/2) from (0, 1, -).
  //   AUROC = 1/2*1/2*2 + 1/2*1/2*3/2 + 0 = 7/8 (= Mann-Whitney 3.5/4); AUPRC = 1/2 + 1/3 = 5/6.
  // Class 1: no positive label -> both NaN. Class 2: no negative label -> AUROC NaN, AUPRC 1.
  const tensor<int, 2> labels = {{1, 0, 1}, {0, 0, 1}, {1, 0, 1}, {0, 0, 1}};
  const tensor<double, 2> outputs = {{0.9, 0.1, 0.2}, {0.8, 0.2, 0.4}, {0.8, 0.3, 0.4}, {0.3, 0.4, 0.9}};
  const auto scores = challenge_auc(labels, outputs);
  CHECK(scores.auroc[0] == doctest::Approx(7.0 / 8.0).epsilon(1e-15));
  CHECK(scores.auprc[0] == doctest::Approx(5.0 / 6.0).epsilon(1e-15));
  CHECK(std::isnan(scores.auroc[1]));
  CHECK(std::isnan(scores.auprc[1]));
  CHECK(std::isnan(scores.auroc[2]));
  CHECK(scores.auprc[2] == doctest::Approx(1.0));
  CHECK(scores.macro_auroc == doctest::Approx(7.0 / 8.0));
  CHECK(scores.macro_auprc == doctest::Approx((5.0 / 6.0 + 1.0) / 2.0));

  const tensor<int, 2> no_positives = {{0}, {0}};
  const tensor<double, 2> any = {{0.2}, {0.7}};
  CHECK(std::isnan(challenge_auc(no_positives, any).macro_auroc));
}

TEST_CASE("perfect and reversed rankings give AUROC 1 and 0") {
  const tensor<int, 2> labels = {{1}, {1}, {0}, {0}};
  const tensor<double, 2> good = {{0.9}, {0.8}, {0.2}, {0.1}};
  const tensor<double, 2> bad = {{0.1}, {0.2}, {0.8}, {0.9}};
  CHECK(challenge_auc(labels, good).macro_auroc == doctest::Approx(1.0));
  CHECK(challenge_auc(labels, good).macro_auprc == doctest::Approx(1.0));
  CHECK(challenge_auc(labels, bad).macro_auroc == doctest::Approx(0.0));
  // Reversed: positives found last; AUPRC = 1/2 * 1/3 + 1/2 * 2/4 = 5/12.
  CHECK(challenge_auc(labels, bad).macro_auprc == doctest::Approx(5.0 / 12.0));
}

TEST_CASE("micro AUROC and AUPRC pool every record and class") {
  // Pooled row-major: 0.9(+) 0.8(-) 0.8(+) 0.3(-): the class-0 case above.
  const tensor<int, 2> labels = {{1, 0}, {1, 0}};
  const tensor<double, 2> outputs = {{0.9, 0.8}, {0.8, 0.3}};
  CHECK(micro_auroc(labels, outputs) == doctest::Approx(7.0 / 8.0).epsilon(1e-15));
  CHECK(micro_auprc(labels, outputs) == doctest::Approx(5.0 / 6.0).epsilon(1e-15));
  const tensor<int, 2> all_negative = {{0, 0}};
  const tensor<double, 2> some = {{0.1, 0.2}};
  CHECK(std::isnan(micro_auroc(all_negative, some)));
}

TEST_CASE("AUC inputs are checked") {
  const tensor<int, 2> labels = {{1, 0}};
  const tensor<double, 2> nan_scores = {{std::nan(""), 0.1}};
  CHECK_THROWS_AS((void)challenge_auc(labels, nan_scores), ecgssl::data_error);
  const tensor<double, 2> soft_labels = {{0.5, 0.0}};
  const tensor<double, 2> scores = {{0.4, 0.1}};
  CHECK_THROWS_AS((void)micro_auroc(soft_labels, scores), ecgssl::data_error);
  const tensor<double, 2> wrong_shape = {{0.4, 0.1, 0.3}};
  CHECK_THROWS_AS((void)challenge_auc(labels, wrong_shape), ecgssl::shape_error);
}

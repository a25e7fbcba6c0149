#include <ecgssl/metrics/diagnosis_metrics.hpp>
#include <ecgssl/metrics/identification.hpp>

#include <doctest/doctest.h>

#include <support/npy.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

using ecgssl::tensor;
using ecgssl::testing::read_npy;
using namespace ecgssl::metrics;

// Reference values: tools/make_metric_fixtures.py (scikit-learn + a numpy transcription of the
// Challenge score with weights.csv read from data/cinc2021/).

namespace {

std::string fixture(const char* name) { return (std::string(ECGSSL_TEST_DATA_DIR) + "/metrics/") + name + ".npy"; }

tensor<double, 2> matrix(const char* name) {
  const auto a = read_npy(fixture(name));
  REQUIRE(a.shape.size() == 2);
  tensor<double, 2> t = tensor<double, 2>::from_shape({a.shape[0], a.shape[1]});
  std::copy(a.values.begin(), a.values.end(), t.begin());
  return t;
}

void check_close(double actual, double expected, const std::string& what) {
  INFO(what);
  if (std::isnan(expected)) {
    CHECK(std::isnan(actual));
  } else {
    CHECK(std::abs(actual - expected) <= 1e-9);
  }
}

}  // namespace

TEST_CASE("diagnosis metrics match scikit-learn and the Challenge formulas on random predictions") {
  const auto labels = matrix("labels");
  const auto probabilities = matrix("probabilities");
  REQUIRE(labels.shape()[1] == 26);
  const auto expected = read_npy(fixture("expected_scalars")).values;
  REQUIRE(expected.size() == 7);

  const auto m = evaluate_diagnosis(labels, probabilities);
  check_close(m.challenge_score, expected[0], "challenge score");
  check_close(m.macro_auroc, expected[1], "macro AUROC");
  check_close(m.macro_auprc, expected[2], "macro AUPRC");
  check_close(m.micro_auroc, expected[3], "micro AUROC");
  check_close(m.micro_auprc, expected[4], "micro AUPRC");
  check_close(m.accuracy, expected[5], "accuracy");
  check_close(m.macro_f_measure, expected[6], "macro F-measure");

  const auto auroc = read_npy(fixture("expected_auroc")).values;
  const auto auprc = read_npy(fixture("expected_auprc")).values;
  const auto f = read_npy(fixture("expected_f_measure")).values;
  for (std::size_t k = 0; k < 26; ++k) {
    check_close(m.per_class_auc.auroc[k], auroc[k], "AUROC of class " + std::to_string(k));
    check_close(m.per_class_auc.auprc[k], auprc[k], "AUPRC of class " + std::to_string(k));
    check_close(m.per_class_f_measure.per_class[k], f[k], "F-measure of class " + std::to_string(k));
  }
  CHECK(std::isnan(m.per_class_auc.auroc[3]));  // the fixture's class without positives
  CHECK(std::isnan(m.per_class_auc.auroc[7]));  // and without negatives
  CHECK(!std::isnan(m.per_class_auc.auprc[7]));

  // The score accumulated batch by batch equals the whole-set value.
  challenge_score batched;
  const std::size_t n = labels.shape()[0];
  for (std::size_t start = 0; start < n; start += 64) {
    const std::size_t rows = std::min<std::size_t>(64, n - start);
    tensor<double, 2> l = tensor<double, 2>::from_shape({rows, 26});
    tensor<double, 2> p = tensor<double, 2>::from_shape({rows, 26});
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t k = 0; k < 26; ++k) {
        l(i, k) = labels(start + i, k);
        p(i, k) = probabilities(start + i, k) > 0.5 ? 1.0 : 0.0;
      }
    }
    batched.add(l, p);
  }
  check_close(batched.value(), expected[0], "batched challenge score");
}

TEST_CASE("identification top-1 matches numpy on random embeddings") {
  const auto gallery = matrix("gallery");
  const auto probes = matrix("probes");
  const auto gallery_ids = read_npy(fixture("gallery_ids")).as<std::int64_t>();
  const auto probe_ids = read_npy(fixture("probe_ids")).as<std::int64_t>();
  const auto expected = read_npy(fixture("expected_identification")).values;
  REQUIRE(expected.size() == probe_ids.size() + 1);
  const auto result = identification_top1<double>(gallery, gallery_ids, probes, probe_ids);
  check_close(result.top1, expected[0], "top-1");
  for (std::size_t i = 0; i < probe_ids.size(); ++i) CHECK(result.best_match[i] == static_cast<std::size_t>(expected[i + 1]));
}

TEST_CASE("another class set (PTB-XL superclasses): the areas and F-measure, no Challenge score") {
  // Two classes, four records, no ties: each AUROC is the share of (positive, negative) pairs
  // ordered correctly, counted by hand: class 0 3 of 4, class 1 4 of 4.
  const ecgssl::tensor<float, 2> labels{{1, 0}, {0, 1}, {1, 1}, {0, 0}};
  const ecgssl::tensor<float, 2> probabilities{{0.9f, 0.1f}, {0.2f, 0.8f}, {0.6f, 0.5f}, {0.7f, 0.4f}};
  const auto m = evaluate_diagnosis(labels, probabilities, 0.5, class_set::other);
  CHECK_FALSE(m.challenge_scored);
  CHECK(m.challenge_score == 0.0);
  CHECK(m.macro_auroc == doctest::Approx(0.875).epsilon(1e-12));
  // Decisions > 0.5: {1,0},{0,1},{1,0},{1,0}: the first two rows match exactly.
  CHECK(m.accuracy == doctest::Approx(0.5).epsilon(1e-12));
}

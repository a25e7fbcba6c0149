// evaluation: lead-set zero fill, lead-set sweeps, gallery/probe retrieval, record means.
#include <doctest/doctest.h>

#include <ecgssl/pipeline/finetuning/evaluation.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "real_segments.hpp"

using namespace ecgssl::pipeline;
using ecgssl::data::segment_set;

namespace {

const segment_set& small_set() {
  static const segment_set set = ecgssl::test_support::cinc_segments({"A0001", "A0002", "A0003", "A0004"});
  return set;
}

finetune_model_options tiny(finetune_task task, std::size_t classes) {
  finetune_model_options o;
  o.task = task;
  o.classes = classes;
  o.encoder = finetuning_encoder_options(ecgssl::model::tiny_config<float>::options(), true);
  return o;
}

}  // namespace

TEST_CASE("evaluation: a lead set zero-fills the other leads") {
  finetune_model<float> model(tiny(finetune_task::arrhythmia, 26), 4);
  const auto& set = small_set();
  const auto two = ecgssl::io::lead_set::parse("2");
  const auto p2 = predict_probabilities(model, set, two);
  segment_set zeroed = set;
  for (std::size_t n = 0; n < zeroed.size(); ++n) {
    for (std::size_t l = 2; l < 12; ++l) {
      for (std::size_t t = 0; t < zeroed.samples(); ++t) zeroed.signals(n, l, t) = 0.0f;
    }
  }
  const auto p12 = predict_probabilities(model, zeroed, ecgssl::io::lead_set());
  CHECK(p2 == p12);
  const auto full = predict_probabilities(model, set, ecgssl::io::lead_set());
  CHECK_FALSE(full == p2);
}

TEST_CASE("evaluation: one call evaluates every paper lead set") {
  finetune_model<float> model(tiny(finetune_task::arrhythmia, 26), 4);
  const auto& set = small_set();
  const auto results = evaluate_lead_sets(model, set, paper_lead_sets());
  REQUIRE(results.size() == 5);
  CHECK(results[1].name == "6");
  CHECK(results[1].leads.size() == 6);
  CHECK(results[4].leads.size() == 1);
  const auto direct = evaluate_arrhythmia(model, set, ecgssl::io::lead_set::parse("3"));
  CHECK(results[2].score == doctest::Approx(direct.challenge_score));
  CHECK_THROWS_AS(evaluate_lead_sets(model, set, {"5"}), ecgssl::config_error);
}

TEST_CASE("evaluation: gallery is the first, probe the second segment of each identity") {
  segment_set s;
  s.identities = {7, 7, 3, 7, 9, 3};
  s.record_ids = {"a", "a", "b", "a", "c", "b"};
  const auto gp = make_gallery_probe(s);
  CHECK(gp.ids == std::vector<std::int64_t>{7, 3});
  CHECK(gp.gallery == std::vector<std::size_t>{0, 2});
  CHECK(gp.probe == std::vector<std::size_t>{1, 5});
}

TEST_CASE("evaluation: identical gallery and probe segments are identified perfectly") {
  finetune_model<float> model(tiny(finetune_task::identification, 4), 4);
  const auto& base = small_set();
  // Each segment twice under its own identity: probe == gallery, so top-1 must be 1.
  std::vector<std::size_t> items;
  for (std::size_t i = 0; i < base.size(); ++i) {
    items.push_back(i);
    items.push_back(i);
  }
  segment_set twice = base.subset(items);
  for (std::size_t i = 0; i < twice.size(); ++i) twice.identities[i] = static_cast<std::int64_t>(i / 2);
  CHECK(evaluate_identification(model, twice, ecgssl::io::lead_set()) == doctest::Approx(1.0));
  segment_set single = base.subset(std::vector<std::size_t>{0});
  CHECK_THROWS_AS(evaluate_identification(model, single, ecgssl::io::lead_set()), ecgssl::data_error);
}

TEST_CASE("evaluation: record probability is the mean over its segments") {
  ecgssl::tensor<float, 2> p = {{0.2f, 1.0f}, {0.6f, 0.0f}, {0.5f, 0.5f}, {0.4f, 0.0f}};
  std::vector<std::string> records;
  const auto m = mean_by_record(p, {"x", "y", "x", "x"}, records);
  CHECK(records == std::vector<std::string>{"x", "y"});
  CHECK(m(0, 0) == doctest::Approx((0.2 + 0.5 + 0.4) / 3));
  CHECK(m(0, 1) == doctest::Approx(0.5));
  CHECK(m(1, 0) == doctest::Approx(0.6));
}

TEST_CASE("evaluation: the bootstrap resamples records, never splitting one record's segments") {
  // 30 real records, one segment each, and the same records with that segment twice: a resample
  // of records takes both copies or neither, and every metric is a ratio of counts that doubling
  // leaves unchanged, so the intervals must be equal. Probabilities are a fixed function of the
  // labels and the row, not a model's.
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(ecgssl::test_support::cinc_dir())) {
    if (entry.path().extension() == ".hea") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  names.resize(30);
  const auto all = ecgssl::test_support::cinc_segments(names);
  std::vector<std::size_t> first, twice;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i == 0 || all.record_ids[i] != all.record_ids[i - 1]) {
      first.push_back(i);
      twice.push_back(i);
      twice.push_back(i);
    }
  }
  const auto one = all.subset(first);
  const auto dup = all.subset(twice);
  REQUIRE(one.size() == 30);
  const auto probabilities = [](const segment_set& s) {
    ecgssl::tensor<float, 2> p = ecgssl::tensor<float, 2>::from_shape({s.size(), s.labels.shape()[1]});
    for (std::size_t i = 0; i < s.size(); ++i) {
      const std::size_t record = static_cast<std::size_t>(std::hash<std::string>{}(s.record_ids[i]) % 97);
      for (std::size_t c = 0; c < p.shape()[1]; ++c) {
        p(i, c) = 0.35f * static_cast<float>(s.labels(i, c)) + 0.6f * static_cast<float>((record * 31 + c * 17) % 101) / 101.0f;
      }
    }
    return p;
  };
  const auto a = bootstrap_arrhythmia(one, probabilities(one), 200, 4);
  const auto b = bootstrap_arrhythmia(dup, probabilities(dup), 200, 4);
  REQUIRE(a.size() == 5);
  REQUIRE(b.size() == 5);
  for (std::size_t m = 0; m < 5; ++m) {
    CAPTURE(m);
    CHECK(a[m].resamples == 200);
    CHECK(a[m].estimate == doctest::Approx(b[m].estimate).epsilon(1e-12));
    CHECK(a[m].low == doctest::Approx(b[m].low).epsilon(1e-12));
    CHECK(a[m].high == doctest::Approx(b[m].high).epsilon(1e-12));
    CHECK(a[m].low <= a[m].estimate + 1e-12);
    CHECK(a[m].estimate <= a[m].high + 1e-12);
  }
  CHECK(a[1].high - a[1].low > 0.01);  // the AUROC's interval has a width
}

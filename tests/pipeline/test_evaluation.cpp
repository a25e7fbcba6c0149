// evaluation: lead-set zero fill, lead-set sweeps, gallery/probe retrieval, record means.
#include <doctest/doctest.h>

#include <ecgssl/pipeline/finetuning/evaluation.hpp>

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

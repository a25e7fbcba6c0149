// ecgssl evaluate: one model on every paper lead set, table and JSON.
#include "commands.hpp"
#include <ecgssl/data/wfdb_dataset.hpp>
#include <doctest/doctest.h>


#include "finetuned_fixture.hpp"

TEST_CASE("evaluate: JSON has one key per lead set and matches the library evaluation") {
  const auto& f = ecgssl::test_support::finetuned();
  std::ostringstream out, err;
  REQUIRE(ecgssl::cli::run_evaluate({"--checkpoint", f.model.string(), "--data", f.data.string(), "--leads", "all",
                                     "--split", "test", "--json"},
                                    out, err) == 0);
  const auto j = nlohmann::json::parse(out.str());
  REQUIRE(j.size() == 5);
  for (const char* k : {"12", "6", "3", "2", "1"}) REQUIRE(j.contains(k));
  CHECK(j["12"].contains("auroc"));
  // Independently: rebuild the test split and evaluate lead set 3 through the library.
  const auto model = ecgssl::pipeline::load_finetuned<float>(f.model);
  const auto all = ecgssl::data::load_segment_set(f.data.string());
  const auto split = ecgssl::pipeline::split_segments(all, ecgssl::pipeline::finetune_task::arrhythmia, 0.2, 3);
  CHECK(j["3"]["segments"].get<std::size_t>() == split.test.size());
  const auto m = ecgssl::pipeline::evaluate_arrhythmia(*model, split.test, ecgssl::io::lead_set::parse("3"));
  CHECK(j["3"]["challenge_score"].get<double>() == doctest::Approx(m.challenge_score));

  std::ostringstream table;
  REQUIRE(ecgssl::cli::run_evaluate({"--checkpoint", f.model.string(), "--data", f.data.string(), "--leads", "12", "4"},
                                    table, err) == 0);
  CHECK(table.str().find("lead set      challenge_score") != std::string::npos);
  CHECK(table.str().find("\n4   ") != std::string::npos);
  std::ostringstream o2;
  CHECK(ecgssl::cli::run_evaluate({"--checkpoint", f.model.string(), "--data", f.data.string(), "--leads", "5"}, o2,
                                  err) == 1);
  CHECK(err.str().find("no lead set named '5'") != std::string::npos);
}

TEST_CASE("evaluate --bootstrap: 95% intervals over records, the same for the same seed") {
  const auto& f = ecgssl::test_support::finetuned();
  const auto run = [&](std::vector<std::string> extra, std::string* err_text = nullptr) {
    std::vector<std::string> args{"--checkpoint", f.model.string(), "--data", f.data.string(), "--leads", "12", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::ostringstream out, err;
    const int code = ecgssl::cli::run_evaluate(args, out, err);
    if (err_text) *err_text = err.str();
    return std::pair{code, out.str()};
  };
  const auto [code, text] = run({"--json", "--bootstrap", "60", "--bootstrap-seed", "5"});
  REQUIRE(code == 0);
  const auto j = nlohmann::json::parse(text);
  for (const char* set : {"12", "1"}) {
    CAPTURE(set);
    const auto& ci = j.at(set).at("intervals");
    CHECK(ci.at("resamples") == 60);
    for (const char* metric : {"challenge_score", "auroc", "auprc", "accuracy", "f_measure"}) {
      CAPTURE(metric);
      const auto& pair = ci.at(metric);
      REQUIRE(pair.size() == 2);
      if (pair[0].is_null() || j.at(set).at(metric).is_null()) continue;
      CHECK(pair[0].get<double>() <= j.at(set).at(metric).get<double>() + 1e-9);
      CHECK(j.at(set).at(metric).get<double>() <= pair[1].get<double>() + 1e-9);
    }
  }
  CHECK(run({"--json", "--bootstrap", "60", "--bootstrap-seed", "5"}).second == text);
  CHECK(run({"--json", "--bootstrap", "60", "--bootstrap-seed", "6"}).second != text);
  const auto table = run({"--bootstrap", "20"}).second;
  CHECK(table.find("95% intervals (bootstrap over records, 20 resamples, seed 1)") != std::string::npos);
  std::string err;
  CHECK(run({"--bootstrap", "1"}, &err).first == 1);
  CHECK(err.find("--bootstrap") != std::string::npos);
}

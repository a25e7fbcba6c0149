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

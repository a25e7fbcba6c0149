// ecgssl finetune --task identification and ecgssl evaluate on an identification model: the
// command-line path of spec §6.3 (records as identities, ArcFace, gallery/probe top-1).
#include "commands.hpp"
#include <ecgssl/data/wfdb_dataset.hpp>
#include <doctest/doctest.h>


#include <cmath>
#include <set>

#include "finetuned_fixture.hpp"

TEST_CASE("identification: finetune and evaluate through the command line") {
  const auto& f = ecgssl::test_support::finetuned();
  const auto model_path = f.dir / "identification.safetensors";
  std::ostringstream out, err;
  const int rc = ecgssl::cli::run_finetune(
      {"--task", "identification", "--random-init", "--config", f.config.string(), "--data", f.data.string(), "--epochs",
       "2", "--batch-size", "8", "--lr", "1e-3", "--valid-fraction", "0.25", "--seed", "4", "--out",
       model_path.string()},
      out, err);
  const std::string log = out.str() + err.str();
  REQUIRE_MESSAGE(rc == 0, log);
  CHECK(out.str().find("training identities") != std::string::npos);
  CHECK(out.str().find("valid top1") != std::string::npos);

  // The bundled records carry no patient ids, so every record is an identity (spec §6.3):
  // count the records that keep segments in the training part, independently of the split code.
  const auto all = ecgssl::data::load_segment_set(f.data.string());
  const auto split = ecgssl::pipeline::split_segments(all, ecgssl::pipeline::finetune_task::identification, 0.25, 4);
  std::set<std::string> train_records, valid_records;
  for (std::size_t i = 0; i < split.train.size(); ++i) train_records.insert(split.train.record_ids[i]);
  for (std::size_t i = 0; i < split.valid.size(); ++i) valid_records.insert(split.valid.record_ids[i]);
  for (const auto& r : valid_records) CHECK_MESSAGE(train_records.count(r) == 0, r);  // held-out identities
  CHECK(train_records.size() + valid_records.size() <= f.records.size());  // single-segment records cannot be probed

  ecgssl::pipeline::finetune_checkpoint_info info;
  const auto model = ecgssl::pipeline::load_finetuned<float>(model_path, &info);
  CHECK(info.model.task == ecgssl::pipeline::finetune_task::identification);
  CHECK(info.model.classes == train_records.size());

  std::ostringstream json_out, e2;
  REQUIRE(ecgssl::cli::run_evaluate({"--checkpoint", model_path.string(), "--data", f.data.string(), "--leads", "12",
                                     "1", "--split", "valid", "--json"},
                                    json_out, e2) == 0);
  const auto j = nlohmann::json::parse(json_out.str());
  REQUIRE(j.size() == 2);
  for (const char* k : {"12", "1"}) {
    REQUIRE(j.contains(k));
    const double top1 = j[k]["top1"].get<double>();
    // One probe per held-out identity: top-1 is a whole number of correct probes over their count.
    const double probes = static_cast<double>(valid_records.size());
    CHECK(top1 >= 0.0);
    CHECK(top1 <= 1.0);
    CHECK(std::abs(top1 * probes - std::round(top1 * probes)) < 1e-9);
  }
  const double lib = ecgssl::pipeline::evaluate_identification(*model, split.valid, ecgssl::io::lead_set::parse("12"));
  CHECK(j["12"]["top1"].get<double>() == doctest::Approx(lib));

  std::ostringstream table;
  REQUIRE(ecgssl::cli::run_evaluate({"--checkpoint", model_path.string(), "--data", f.data.string(), "--split", "valid"},
                                    table, e2) == 0);
  CHECK(table.str().find("identification model") != std::string::npos);
  CHECK(table.str().find("lead set      top1") != std::string::npos);
}

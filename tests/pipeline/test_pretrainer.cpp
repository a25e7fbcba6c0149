// Tests of pipeline/pretraining/pretrainer.hpp (with pretrain_objective, w2v_cmsc_criterion, wfdb_dataset)
// on the tiny encoder and the real PhysioNet 2021 records shipped in tests/data/records/challenge.
#include <doctest/doctest.h>

#include "challenge_records.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ecgssl/core/threading.hpp"
#include "ecgssl/pipeline/pretraining/pretrain_method.hpp"
#include "ecgssl/pipeline/pretraining/pretrainer.hpp"
#include "ecgssl/data/wfdb_dataset.hpp"

using namespace ecgssl;
using namespace ecgssl::pipeline;
using ecgssl::data::wfdb_dataset;

namespace {

using tiny = model::tiny_config<float>;
using paper_objective = w2v_cmsc_rlm_objective<tiny>;
using pair_source = data::paired_source<data::record_source>;


std::filesystem::path scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "ecgssl_test_pretrainer";
  std::filesystem::create_directories(dir);
  return dir / name;
}

pretrainer_options small_run(std::uint64_t seed, double lr = 5e-5) {
  pretrainer_options o;
  o.batch_items = 2;
  o.update_freq = 1;
  o.seed = seed;
  o.learning_rate = lr;
  o.method = "w2v_cmsc_rlm";
  return o;
}

std::vector<double> losses(const std::vector<step_record>& h) {
  std::vector<double> out;
  for (const auto& r : h) out.push_back(r.loss);
  return out;
}

}  // namespace

static_assert(pretraining_criterion<w2v_cmsc_criterion<float, true>, model::ecg_transformer<tiny>>);
static_assert(pretraining_criterion<pooled_contrastive_criterion<float, cmsc_form::nt_xent_2n>, model::ecg_transformer<tiny>>);

TEST_CASE("wfdb_dataset pairs consecutive 5 s segments of the real records") {
  const wfdb_dataset data(ecgssl::test_support::challenge_records_dir());
  // 8 Challenge records at 500 Hz: A0001 is 15 s (3 segments -> 1 pair), the others 10 s (1 pair each)
  CHECK(data.manifest().usable_indices().size() == 8);
  CHECK(data.segments()->size() == 17);
  REQUIRE(data.pairs()->size() == 8);
  tensor<float, 2> x;
  data::segment_meta m;
  data.pairs()->read(0, 1, x, m);
  CHECK(x.shape()[0] == 12);
  CHECK(x.shape()[1] == 2500);
  CHECK(m.segment == 1);
  // A0001.mat lead I sample 0 is 28 adu at 1000 adu/mV (first value in its header line)
  data.pairs()->read(0, 0, x, m);
  CHECK(m.record_id == "A0001");
  CHECK(x(0, 0) == doctest::Approx(0.028));
}

TEST_CASE("wfdb_dataset: empty folder and all-skipped folder are clear errors") {
  const auto empty = scratch("empty");
  std::filesystem::remove_all(empty);
  std::filesystem::create_directories(empty);
  CHECK_THROWS_WITH_AS(wfdb_dataset{empty}, doctest::Contains("no WFDB header"), data_error);
  const auto skipped = scratch("skipped");
  std::filesystem::remove_all(skipped);
  std::filesystem::create_directories(skipped);
  std::filesystem::copy(std::filesystem::path(ECGSSL_TEST_DATA_DIR) / "records" / "wfdb" / "100_3chan.hea", skipped);
  std::filesystem::copy(std::filesystem::path(ECGSSL_TEST_DATA_DIR) / "records" / "wfdb" / "100_3chan.dat", skipped);
  CHECK_THROWS_WITH_AS(wfdb_dataset{skipped}, doctest::Contains("all 1 records were skipped"), data_error);
  CHECK_THROWS_AS(wfdb_dataset{scratch("does_not_exist")}, io_error);
}

TEST_CASE("W2V+CMSC+RLM on real records: the loss decreases") {
  set_threads(1);
  const wfdb_dataset data(ecgssl::test_support::challenge_records_dir());
  paper_objective objective(tiny::options());
  pretrainer<paper_objective, pair_source> trainer(objective, data.pairs(), small_run(3, 1e-3));
  const auto history = trainer.run(24, "", 0);
  REQUIRE(history.size() == 24);
  double first = 0, last = 0;
  for (int i = 0; i < 4; ++i) {
    first += history[static_cast<std::size_t>(i)].loss;
    last += history[history.size() - 1 - static_cast<std::size_t>(i)].loss;
  }
  MESSAGE("mean loss of the first 4 updates " << first / 4 << ", of the last 4 " << last / 4);
  CHECK(last < 0.8 * first);
  for (const auto& r : history) CHECK(std::isfinite(r.loss));
  REQUIRE(history[0].terms.size() == 4);
  CHECK(history[0].terms[3].first == "cmsc");
  // spec §4.4: loss per masked frame = mean W2V + 0.1 diversity + 10 feature penalty + 1 CMSC
  for (const auto& r : history) {
    const double w2v = r.terms[0].second, diversity = r.terms[1].second, penalty = r.terms[2].second,
                 cmsc = r.terms[3].second;
    CHECK(r.loss == doctest::Approx(w2v + 0.1 * diversity + 10.0 * penalty + cmsc).epsilon(1e-5));  // float sums
    CHECK(diversity >= 0.0);
    CHECK(diversity <= 1.0);
    CHECK(cmsc >= 0.0);
    // InfoNCE over K + 1 = 101 candidates starts near log(101) per frame and cannot be negative
    CHECK(w2v >= 0.0);
  }
  CHECK(history[0].terms[0].second == doctest::Approx(std::log(101.0)).epsilon(0.25));
  // Temperature, by update count: max(2·0.999995^u, 0.5) (spec §3.8) at u = 23
  CHECK(objective.encoder().last_outputs().temperature == doctest::Approx(2.0 * std::pow(0.999995, 23)));
}

TEST_CASE("same seed and thread count give the same loss curve bit for bit") {
  set_threads(1);
  const wfdb_dataset data(ecgssl::test_support::challenge_records_dir());
  const auto run = [&](std::uint64_t seed) {
    paper_objective objective(tiny::options());
    pretrainer<paper_objective, pair_source> trainer(objective, data.pairs(), small_run(seed));
    return losses(trainer.run(3, "", 0));
  };
  const auto a = run(7), b = run(7), c = run(8);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("a run resumed from the checkpoint of update k continues exactly as the uninterrupted run") {
  set_threads(1);
  const wfdb_dataset data(ecgssl::test_support::challenge_records_dir());
  auto options = small_run(11);
  options.update_freq = 2;  // two micro-batches per update: 4 updates cross an epoch (8 pairs, 2 per batch)
  const auto path = scratch("resume.safetensors");
  std::filesystem::remove(path);

  paper_objective full_objective(tiny::options());
  pretrainer<paper_objective, pair_source> full(full_objective, data.pairs(), options);
  const auto full_losses = losses(full.run(4, "", 0));

  {
    paper_objective first_objective(tiny::options());
    pretrainer<paper_objective, pair_source> first(first_objective, data.pairs(), options);
    first.run(3, path.string(), 0);
  }
  paper_objective second_objective(tiny::options());
  pretrainer<paper_objective, pair_source> second(second_objective, data.pairs(), options);
  second.resume(path);
  CHECK(second.step() == 3);
  const auto rest = losses(second.run(4, "", 0));
  REQUIRE(rest.size() == 1);
  CHECK(rest[0] == full_losses[3]);
  const auto a = full.parameters().values();
  const auto b = second.parameters().values();
  CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
}

TEST_CASE("resume refuses another configuration and a corrupt file, leaving the trainer unchanged") {
  set_threads(1);
  const wfdb_dataset data(ecgssl::test_support::challenge_records_dir());
  const auto path = scratch("config.safetensors");
  {
    paper_objective objective(tiny::options());
    pretrainer<paper_objective, pair_source> trainer(objective, data.pairs(), small_run(5));
    trainer.run(1, path.string(), 0);
  }
  auto other = small_run(5);
  other.batch_items = 3;
  paper_objective objective(tiny::options());
  pretrainer<paper_objective, pair_source> trainer(objective, data.pairs(), other);
  const std::vector<float> before(trainer.parameters().values().begin(), trainer.parameters().values().end());
  CHECK_THROWS_WITH_AS(trainer.resume(path), doctest::Contains("batch_items"), config_error);

  auto options = model::tiny_config<float>::options();
  options.layers = 1;
  paper_objective shallow_objective(options);
  pretrainer<paper_objective, pair_source> shallow(shallow_objective, data.pairs(), small_run(5));
  CHECK_THROWS_WITH_AS(shallow.resume(path), doctest::Contains("checkpoint has encoder"), config_error);

  const auto corrupt = scratch("corrupt.safetensors");
  { std::ofstream(corrupt, std::ios::binary) << "not a checkpoint"; }
  CHECK_THROWS_AS(trainer.resume(corrupt), io_error);
  const auto after = trainer.parameters().values();
  CHECK(std::equal(before.begin(), before.end(), after.begin(), after.end()));
  CHECK(trainer.step() == 0);
}

TEST_CASE("a failing checkpoint write is an io_error and keeps the previous checkpoint") {
  set_threads(1);
  const wfdb_dataset data(ecgssl::test_support::challenge_records_dir());
  paper_objective objective(tiny::options());
  pretrainer<paper_objective, pair_source> trainer(objective, data.pairs(), small_run(5));
  CHECK_THROWS_AS(trainer.run(1, (scratch("no_such_dir") / "x" / "ck.safetensors").string(), 0), io_error);
}

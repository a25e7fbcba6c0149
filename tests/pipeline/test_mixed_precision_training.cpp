// Pre-training in bf16 mode (pretrainer_options::precision): the loss curve against float32 from
// the same seed, bit-identical repeats, and the precision written to and checked in checkpoints.
#include <doctest/doctest.h>

#include "challenge_records.hpp"

#include <cmath>
#include <filesystem>
#include <vector>

#include "ecgssl/core/threading.hpp"
#include "ecgssl/data/wfdb_dataset.hpp"
#include "ecgssl/pipeline/pretraining/pretrain_method.hpp"
#include "ecgssl/pipeline/pretraining/pretrainer.hpp"

using namespace ecgssl;
using namespace ecgssl::pipeline;
using ecgssl::data::wfdb_dataset;

namespace {

using tiny = model::tiny_config<float>;
using paper_objective = w2v_cmsc_rlm_objective<tiny>;
using pair_source = data::paired_source<data::record_source>;


pretrainer_options run_options(precision mode) {
  pretrainer_options o;
  o.batch_items = 1;  // one CMSC pair: two segments per update keeps 2 x 200 updates near a minute
  o.seed = 21;
  o.learning_rate = 1e-3;
  o.method = "w2v_cmsc_rlm";
  o.loader_threads = 0;
  o.precision = mode;
  return o;
}

std::vector<double> loss_curve(const wfdb_dataset& data, precision mode, std::int64_t updates) {
  paper_objective objective(tiny::options());
  pretrainer<paper_objective, pair_source> trainer(objective, data.pairs(), run_options(mode));
  std::vector<double> out;
  for (const auto& r : trainer.run(updates, "", 0)) out.push_back(r.loss);
  return out;
}

}  // namespace

TEST_CASE("bf16 pre-training follows the float32 loss curve from the same seed (200 updates)") {
  // The band was measured first (this test's MESSAGE), then fixed here with a margin of about 3:
  // measured on 2026-12-07 (AMD EPYC, AVX2: bf16 products as float32 GEMMs of rounded operands),
  // the mean losses of 20-update windows differed by at most 1.5 % (first window 5.55, last
  // window 4.498 in float32 and 4.507 in bf16). The test allows 5 % per window, and the bf16 run
  // must learn as much (its last window at most 5 % above float32's).
  set_threads(1);
  const wfdb_dataset data(ecgssl::test_support::challenge_records_dir());
  const auto fp32 = loss_curve(data, precision::fp32, 200);
  const auto bf16 = loss_curve(data, precision::bf16, 200);
  REQUIRE(fp32.size() == 200);
  REQUIRE(bf16.size() == 200);
  CHECK(fp32 != bf16);  // the products were rounded
  double worst = 0;
  for (std::size_t w = 0; w < 10; ++w) {
    double a = 0, b = 0;
    for (std::size_t i = 20 * w; i < 20 * (w + 1); ++i) a += fp32[i], b += bf16[i];
    worst = std::max(worst, std::abs(b - a) / a);
    CAPTURE(w);
    CHECK(std::abs(b - a) <= 0.05 * a);
  }
  double first = 0, last32 = 0, last16 = 0;
  for (std::size_t i = 0; i < 20; ++i) first += fp32[i], last32 += fp32[180 + i], last16 += bf16[180 + i];
  MESSAGE("largest window difference " << worst << "; mean loss first window " << first / 20 << ", last window fp32 "
                                       << last32 / 20 << " bf16 " << last16 / 20);
  CHECK(last16 <= 1.05 * last32);
  CHECK(last32 < 0.9 * first);  // both runs learn
  for (double v : bf16) CHECK(std::isfinite(v));
}

TEST_CASE("bf16 pre-training: same seed, same bits; the checkpoint records the precision and resume checks it") {
  set_threads(1);
  const wfdb_dataset data(ecgssl::test_support::challenge_records_dir());
  CHECK(loss_curve(data, precision::bf16, 3) == loss_curve(data, precision::bf16, 3));
  const auto path = std::filesystem::temp_directory_path() / "ecgssl_test_mixed_precision.safetensors";
  {
    paper_objective objective(tiny::options());
    pretrainer<paper_objective, pair_source> trainer(objective, data.pairs(), run_options(precision::bf16));
    CHECK(trainer.config_json().at("precision") == "bf16");
    trainer.run(2, path.string(), 0);
  }
  {
    paper_objective objective(tiny::options());
    pretrainer<paper_objective, pair_source> trainer(objective, data.pairs(), run_options(precision::fp32));
    CHECK(trainer.config_json().at("precision") == "fp32");
    CHECK_THROWS_WITH_AS(trainer.resume(path), doctest::Contains("ecgssl.config.precision"), config_error);
    CHECK(trainer.step() == 0);
  }
  paper_objective objective(tiny::options());
  pretrainer<paper_objective, pair_source> trainer(objective, data.pairs(), run_options(precision::bf16));
  trainer.resume(path);
  CHECK(trainer.step() == 2);
  std::filesystem::remove(path);
}

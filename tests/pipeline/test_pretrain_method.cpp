// Tests of pipeline/pretraining/pretrain_method.hpp: method names, and 3KG (spec §4.5) end to end on the
// real PhysioNet 2021 records in tests/data/records/challenge with the tiny encoder.
#include <doctest/doctest.h>

#include "challenge_records.hpp"

#include <cmath>
#include <filesystem>
#include <string>

#include "ecgssl/core/threading.hpp"
#include "ecgssl/pipeline/pretraining/pretrain_method.hpp"
#include "ecgssl/pipeline/pretraining/pretrainer.hpp"
#include "ecgssl/data/two_view_source.hpp"
#include "ecgssl/data/wfdb_dataset.hpp"

using namespace ecgssl;
using namespace ecgssl::pipeline;
using ecgssl::data::two_view_source;
using ecgssl::data::wfdb_dataset;

namespace {

using tiny = model::tiny_config<float>;
using views = two_view_source<data::record_source>;

}  // namespace

static_assert(signal_transform<three_kg_augmentation>);

TEST_CASE("pretrain methods: every listed name parses, others are refused with the list") {
  CHECK(parse_pretrain_method("3kg") == pretrain_method::three_kg);
  CHECK(parse_pretrain_method("simclr_rlm") == pretrain_method::simclr_rlm);
  CHECK(parse_pretrain_method("w2v_cmsc_rlm") == pretrain_method::w2v_cmsc_rlm);
  CHECK(std::string(pretrain_method_names).find("3kg") != std::string::npos);
  CHECK_THROWS_WITH_AS(parse_pretrain_method("3KG"), doctest::Contains("3kg"), config_error);
}

TEST_CASE("3kg: the two views of a segment are two different rotations, each half time-masked per lead") {
  const wfdb_dataset data(ecgssl::test_support::challenge_records_dir());
  const auto source = std::make_shared<const views>(data.segments());
  data::loader_options lo;
  lo.batch_size = 3;
  lo.threads = 0;
  lo.seed = 4;
  data::batch_loader<views, three_kg_augmentation> loader(source, lo, make_three_kg_augmentation());
  loader.start_epoch(0);
  const auto b = loader.next();
  REQUIRE(b.has_value());
  REQUIRE(b->signals.shape()[0] == 6);
  for (std::size_t s = 0; s < 6; s += 2) {
    CHECK(b->items[s] == b->items[s + 1]);
    double differ = 0;
    for (std::size_t l = 0; l < 12; ++l) {
      std::size_t zeros = 0;
      for (std::size_t t = 0; t < 2500; ++t) {
        zeros += b->signals(s, l, t) == 0.0f;
        differ += std::abs(b->signals(s, l, t) - b->signals(s + 1, l, t));
      }
      // 1250 masked samples; a real lead is practically never exactly 0 elsewhere
      CHECK(zeros >= 1250);
      CHECK(zeros < 1300);
    }
    CHECK(differ > 1.0);
  }
  // the same seed builds the same batch
  data::batch_loader<views, three_kg_augmentation> again(source, lo, make_three_kg_augmentation());
  again.start_epoch(0);
  const auto b2 = again.next();
  REQUIRE(b2.has_value());
  CHECK(std::equal(b->signals.begin(), b->signals.end(), b2->signals.begin(), b2->signals.end()));
}

TEST_CASE("3kg on real records: the loss is finite and decreases") {
  set_threads(1);
  const wfdb_dataset data(ecgssl::test_support::challenge_records_dir());
  using objective_t = three_kg_objective<tiny>;
  objective_t objective(tiny::options());
  pretrainer_options o;
  o.batch_items = 4;  // 4 segments, 8 views per micro-batch
  o.seed = 3;
  o.learning_rate = 1e-3;
  o.method = "3kg";
  pretrainer<objective_t, views> trainer(objective, std::make_shared<const views>(data.segments()), o);
  const auto history = trainer.run(16, "", 0);
  REQUIRE(history.size() == 16);
  double first = 0, last = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    first += history[i].loss;
    last += history[history.size() - 1 - i].loss;
  }
  MESSAGE("3kg: mean loss of the first 4 updates " << first / 4 << ", of the last 4 " << last / 4);
  for (const auto& r : history) {
    CHECK(std::isfinite(r.loss));
    CHECK(r.loss >= 0.0);
    REQUIRE(r.terms.size() == 1);
    CHECK(r.terms[0].first == "nt_xent");
  }
  CHECK(last < 0.8 * first);
}

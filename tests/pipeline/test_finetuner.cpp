// finetuner: the training loss decreases on real Challenge records (arrhythmia and
// identification), early stopping keeps and restores the best validation epoch.
#include <doctest/doctest.h>

#include <ecgssl/pipeline/finetuning/finetuner.hpp>

#include "real_segments.hpp"

using namespace ecgssl::pipeline;
using ecgssl::data::segment_set;

namespace {

const segment_set& real_set() {
  static const segment_set set = ecgssl::test_support::cinc_segments(
      {"A0001", "A0002", "A0003", "A0004", "A0005", "A0006", "A0007", "A0008", "A0009", "A0010"});
  return set;
}

finetune_model_options tiny_random_init(finetune_task task, std::size_t classes) {
  finetune_model_options o;
  o.task = task;
  o.classes = classes;
  o.pretrained = false;
  o.encoder = finetuning_encoder_options(ecgssl::model::tiny_config<float>::options(), false);
  return o;
}

}  // namespace

TEST_CASE("finetuner: arrhythmia training loss decreases on real records") {
  const auto& set = real_set();
  REQUIRE(set.size() >= 20);
  finetune_model<float> model(tiny_random_init(finetune_task::arrhythmia, 26), 1);
  finetune_options o;
  o.epochs = 4;
  o.batch_size = 8;
  o.learning_rate = 1e-3;
  std::int64_t steps = 0;
  finetuner<float> trainer(model, o);
  trainer.on_step = [&](const ecgssl::pipeline::step_record& r) {
    ++steps;
    CHECK(std::isfinite(r.loss));
    CHECK(r.learning_rate == doctest::Approx(1e-3));
  };
  const auto history = trainer.fit(set, nullptr);
  REQUIRE(history.size() == 4);
  CHECK(steps == static_cast<std::int64_t>(4 * ((set.size() + 7) / 8)));
  MESSAGE("epoch losses: ", history[0].train_loss, " ", history[1].train_loss, " ", history[2].train_loss, " ",
          history[3].train_loss);
  CHECK(history[3].train_loss < 0.7 * history[0].train_loss);
}

TEST_CASE("finetuner: early stopping keeps the best validation epoch") {
  const auto& set = real_set();
  std::vector<std::size_t> train_items, valid_items;
  for (std::size_t i = 0; i < set.size(); ++i) (i % 3 == 0 ? valid_items : train_items).push_back(i);
  const auto train = set.subset(train_items);
  const auto valid = set.subset(valid_items);
  finetune_model<float> model(tiny_random_init(finetune_task::arrhythmia, 26), 2);
  finetune_options o;
  o.epochs = 6;
  o.batch_size = 8;
  o.patience = 2;
  o.learning_rate = 1e-3;
  finetuner<float> trainer(model, o);
  const auto history = trainer.fit(train, &valid);
  double best = -1e9;
  std::size_t best_epoch = 0;
  for (const auto& r : history) {
    if (r.valid_metric > best) {
      best = r.valid_metric;
      best_epoch = r.epoch;
    }
  }
  CHECK(trainer.best_metric() == doctest::Approx(best));
  CHECK(history.size() <= std::min<std::size_t>(6, best_epoch + 2));
  // The restored parameters reproduce the best epoch's validation score.
  CHECK(evaluate_arrhythmia(model, valid, ecgssl::io::lead_set()).challenge_score == doctest::Approx(best));
}

TEST_CASE("finetuner: identification ArcFace loss decreases with records as identities") {
  const auto& set = real_set();
  finetune_model_options mo = tiny_random_init(finetune_task::identification, 10);
  finetune_model<float> model(mo, 3);
  finetune_options o;
  o.epochs = 5;
  o.batch_size = 8;
  o.learning_rate = 2e-3;
  o.phase_ratios = {0.0, 1.0, 0.0};  // constant peak rate for this short run
  finetuner<float> trainer(model, o);
  const auto history = trainer.fit(set, nullptr);
  MESSAGE("epoch losses: ", history.front().train_loss, " -> ", history.back().train_loss);
  CHECK(history.back().train_loss < 0.8 * history.front().train_loss);

  // Identities outside the head's classes are refused.
  finetune_model<float> small(tiny_random_init(finetune_task::identification, 3), 3);
  finetuner<float> bad(small, o);
  CHECK_THROWS_AS(bad.fit(set, nullptr), ecgssl::data_error);
}

// finetuner: the training loss decreases on real Challenge records (arrhythmia and
// identification), early stopping keeps and restores the best validation epoch.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

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

namespace {

// One epoch of `task` with `batch_size` x `update_freq` segments per update, the encoder's
// activation dropout off: without random draws, the update's segments alone decide.
struct epoch_result {
  std::vector<float> parameters;
  double first_loss = 0;  ///< the first update's loss: before any update, so sum order alone differs
};

epoch_result after_one_epoch(finetune_task task, std::size_t batch_size, std::size_t update_freq) {
  auto mo = tiny_random_init(task, task == finetune_task::identification ? 10 : 26);
  mo.encoder.activation_dropout = 0.0;
  finetune_model<float> model(mo, 5);
  finetune_options o;
  o.epochs = 1;
  o.batch_size = batch_size;
  o.update_freq = update_freq;
  o.learning_rate = 1e-3;
  o.phase_ratios = {0.0, 1.0, 0.0};
  finetuner<float> trainer(model, o);
  epoch_result result;
  trainer.on_step = [&](const ecgssl::pipeline::step_record& r) {
    if (r.step == 1) result.first_loss = r.loss;
  };
  trainer.fit(real_set(), nullptr);
  result.parameters.assign(model.store().values().begin(), model.store().values().end());
  return result;
}

// The largest element difference, relative to the largest parameter (as tests/tools/test_distributed.py).
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double largest = 0, worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    largest = std::max(largest, static_cast<double>(std::abs(a[i])));
    worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  }
  return worst / largest;
}

}  // namespace

TEST_CASE("finetuner: micro-batches of an update share its sample size (update_freq)") {
  // 2 micro-batches of 4 against 1 batch of 8: the same segments in each update, and the same
  // normaliser (positive labels, or segments, of the whole update).
  // - The first update's loss is computed before any update: the two agree up to the order of
  //   the sums (float32); normalising each micro-batch by its own size would about double it.
  // - The parameters: Adam divides each gradient by its own running magnitude, so a gradient that
  //   is zero up to rounding (a bias the output does not depend on) moves by up to the learning
  //   rate on either side, whatever its size; over an epoch that leaves differences of about 1e-5
  //   of the largest parameter at lr 1e-3. A micro-batch weighted wrongly, or another batch
  //   (4 segments per update), differs by about 1e-2.
  for (const auto task : {finetune_task::arrhythmia, finetune_task::identification}) {
    CAPTURE(static_cast<int>(task));
    const auto accumulated = after_one_epoch(task, 4, 2);
    const auto whole = after_one_epoch(task, 8, 1);
    CHECK(accumulated.first_loss == doctest::Approx(whole.first_loss).epsilon(1e-5));
    const double difference = relative_difference(accumulated.parameters, whole.parameters);
    MESSAGE("largest difference relative to the largest parameter: ", difference);
    CHECK(difference < 1e-4);
    CHECK(relative_difference(after_one_epoch(task, 4, 1).parameters, whole.parameters) > 1e-3);
  }
}

TEST_CASE("finetuner: update_freq 0 is refused") {
  finetune_model<float> model(tiny_random_init(finetune_task::arrhythmia, 26), 1);
  finetune_options o;
  o.update_freq = 0;
  CHECK_THROWS_AS(finetuner<float>(model, o), ecgssl::config_error);
}

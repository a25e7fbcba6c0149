#pragma once
/// \file finetuner.hpp
/// The fine-tuning loop of spec §5/§6: Adam (β = 0.9/0.98, eps 1e-8, no weight decay, fairseq
/// semantics) over a finetune_model; arrhythmia: constant lr 5e-5, BCE-with-logits normalised by
/// the batch's positive labels (§6.2); identification: ArcFace, tri-stage lr peaking at 3e-5
/// (phase ratios 0.1/0.2/0.7 of the planned updates, §5). Each epoch visits the training segments
/// in a seeded random order (Philox keyed by seed and epoch); after each epoch the validation
/// metric (Challenge score, or top-1 identification accuracy) is computed, the best parameters
/// are kept, and training stops after `patience` epochs without improvement (checkpoint
/// selection of §6.2/§6.3). At the end the best parameters are restored.
///
/// An update takes `update_freq` micro-batches of `batch_size` segments on each of N ranks (a
/// distributed::communicator; one process by default): G = N x update_freq micro-batches, cut
/// from the epoch's order one after another, rank r taking those at positions r x update_freq ...
/// of each update. Micro-batch q of the run draws its dropout from (seed, q), so N ranks x F
/// micro-batches equal one rank x N F: the same segments, the same draws; only the order of the
/// floating-point sum of the gradients differs. As in the reference trainer, each micro-batch
/// back-propagates its summed loss, and the gradients (summed over the ranks) are divided by the
/// update's sample size: the positive labels of all its micro-batches (arrhythmia, at least 1),
/// or its segments (identification). Parameters are sent from rank 0 at the start; the
/// validation metric is computed by rank 0 and sent to every rank, so all ranks keep and stop at
/// the same epoch.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "../../core/error.hpp"
#include "../../distributed/communicator.hpp"
#include "../../core/precision.hpp"
#include "../../core/philox.hpp"
#include "../../io/lead_set.hpp"
#include "../../loss/bce_with_logits.hpp"
#include "../../optim/adam.hpp"
#include "../../optim/fixed_schedule.hpp"
#include "../../optim/optimizer.hpp"
#include "../../optim/tri_stage_schedule.hpp"
#include "evaluation.hpp"
#include "finetune_model.hpp"
#include "../../data/segment_set.hpp"
#include "../logs/step_record.hpp"
#include "../../optim/training_backend.hpp"

namespace ecgssl::pipeline {

/// Settings of one fine-tuning run.
struct finetune_options {
  std::size_t epochs = 10;
  std::size_t batch_size = 16;            ///< segments per micro-batch (the reference: 128 per update)
  std::size_t update_freq = 1;            ///< micro-batches per update and rank (gradient accumulation)
  /// The ranks of a data-parallel run (null: this process alone). Not owned; outlives the trainer.
  distributed::communicator* communicator = nullptr;
  std::size_t patience = 30;              ///< epochs without a better validation metric (§5: 30 Dx, 20 Id)
  std::uint64_t seed = 1;
  std::optional<double> learning_rate;    ///< default: 5e-5 arrhythmia, 3e-5 (peak) identification
  io::lead_set leads;                     ///< lead set of training and validation (zero fill)
  std::array<double, 3> phase_ratios{0.1, 0.2, 0.7};  ///< tri-stage (identification)
  /// Arithmetic of the matrix products during training and validation (core/precision.hpp).
  ecgssl::precision precision = ecgssl::precision::fp32;
};

/// What happened in one epoch.
struct epoch_record {
  std::size_t epoch = 0;        ///< 1-based
  double train_loss = 0;        ///< mean over the epoch's updates
  double valid_metric = std::numeric_limits<double>::quiet_NaN();  ///< NaN without validation
  bool best = false;            ///< the best so far (kept)
  double seconds = 0;
};

/// The learning rate of either task's schedule (models ecgssl::schedule).
struct finetune_schedule {
  fixed_schedule fixed{};
  std::optional<tri_stage_schedule> tri_stage;
  [[nodiscard]] double learning_rate(std::int64_t update) const {
    return tri_stage ? tri_stage->learning_rate(update) : fixed.learning_rate(update);
  }
};

/// Fine-tunes a model; see the file comment. On cuda (instantiate it from a .cu translation unit
/// that includes <ecgssl/cuda/training_backend.cuh> and the cuda layers and losses) `fit` holds
/// the parameters and the Adam state on the device for the whole run, through a
/// training_backend; the host store receives the values only to keep a best epoch and at the end.
/// Do not hold another device mirror of the model's store (inference_parameters) across `fit`.
template <class T = float, class Backend = host>
class finetuner {
 public:
  using model_type = finetune_model<T, Backend>;
  using training_type = training_backend<adam, finetune_schedule, T, Backend>;

  finetuner(model_type& model, finetune_options options) : model_(&model), options_(std::move(options)) {
    if (options_.batch_size == 0) throw config_error(at_field("batch_size"), "0", "at least 1");
    if (options_.update_freq == 0) throw config_error(at_field("update_freq"), "0", "at least 1");
    if (options_.epochs == 0) throw config_error(at_field("epochs"), "0", "at least 1");
    if (options_.communicator == nullptr) options_.communicator = &alone_;
    comm_ = options_.communicator;
    if (comm_->size() > 1 && !std::is_same_v<Backend, host>) {
      throw config_error(at_field("--device"), "several ranks on a GPU backend",
                         "one process per GPU run, or the host backend under mpirun");
    }
  }

  // The communicator may be this object's own single_process: no copies.
  finetuner(const finetuner&) = delete;
  finetuner& operator=(const finetuner&) = delete;

  std::function<void(const step_record&)> on_step;    ///< after every update
  std::function<void(const epoch_record&)> on_epoch;  ///< after every epoch

  /// Trains on `train` (identification: `identities` are the class labels, 0..classes-1) and
  /// validates on `valid` when given. Returns one record per epoch run.
  std::vector<epoch_record> fit(const data::segment_set& train, const data::segment_set* valid) {
    const precision_scope products(options_.precision);
    if (train.size() == 0) throw data_error(at_field("training set"), "no segment", "at least one segment");
    const bool id_task = model_->options().task == finetune_task::identification;
    if (id_task) {
      for (std::size_t i = 0; i < train.size(); ++i) {
        if (train.identities[i] < 0 || static_cast<std::size_t>(train.identities[i]) >= model_->options().classes) {
          throw data_error(at_field("identity of " + train.record_ids[i]), std::to_string(train.identities[i]),
                           "an identity label below " + std::to_string(model_->options().classes));
        }
      }
    }
    // Micro-batches per update over all ranks, and the updates of an epoch.
    const std::size_t global = static_cast<std::size_t>(comm_->size()) * options_.update_freq;
    const std::size_t per_update = global * options_.batch_size;
    const std::size_t per_epoch = (train.size() + per_update - 1) / per_update;
    const auto total = static_cast<std::int64_t>(per_epoch * options_.epochs);
    finetune_schedule schedule;
    if (id_task) {
      schedule.tri_stage = tri_stage_schedule::from_phase_ratios(options_.learning_rate.value_or(3e-5), total,
                                                                 options_.phase_ratios);
    } else {
      schedule.fixed.rate = options_.learning_rate.value_or(5e-5);
    }
    // Every rank initialised from the same seed and checkpoint; rank 0's values are sent anyway,
    // so no rank can start from other parameters.
    if (comm_->size() > 1) comm_->broadcast(model_->store().values(), 0);
    training_type opt(model_->store(), adam{.beta1 = 0.9, .beta2 = 0.98, .eps = 1e-8, .weight_decay = 0.0},
                      schedule);
    // Summed: the update divides by its sample size over every micro-batch and rank (file comment).
    bce_with_logits<T, Backend> bce(bce_normalization::sum);
    std::vector<T> best(model_->store().values().begin(), model_->store().values().end());
    double best_metric = -std::numeric_limits<double>::infinity();
    std::size_t since_best = 0;
    std::vector<epoch_record> history;
    std::vector<std::size_t> order(train.size());
    std::vector<std::size_t> items;
    std::vector<std::int64_t> ids;
    tensor<T, 3> batch;
    tensor<T, 2> targets;
    typename model_type::template activation<2> d_logits;
    const auto start = std::chrono::steady_clock::now();
    std::int64_t step = 0;
    for (std::size_t epoch = 1; epoch <= options_.epochs; ++epoch) {
      const auto epoch_start = std::chrono::steady_clock::now();
      shuffle(order, epoch);
      double epoch_loss = 0;
      model_->set_training(true);
      for (std::size_t b = 0; b < per_epoch; ++b) {
        const auto t0 = std::chrono::steady_clock::now();
        opt.zero_grad();
        double loss_sum = 0, sample_size = 0, segments = 0;
        for (std::size_t k = 0; k < options_.update_freq; ++k) {
          // This rank's k-th micro-batch is the update's `slot`-th and the epoch's q-th.
          const std::size_t slot = static_cast<std::size_t>(comm_->rank()) * options_.update_freq + k;
          const std::size_t first = (b * global + slot) * options_.batch_size;
          if (first >= train.size()) break;  // the epoch's last update has fewer micro-batches
          items.assign(order.begin() + static_cast<std::ptrdiff_t>(first),
                       order.begin() + static_cast<std::ptrdiff_t>(std::min(train.size(), first + options_.batch_size)));
          train.gather(std::span<const std::size_t>(items), options_.leads, batch);
          // Dropout keyed by the micro-batch's number in the run, whichever rank computes it.
          model_->set_step(options_.seed, static_cast<std::uint64_t>(step) * global + slot);
          segments += static_cast<double>(items.size());
          if (!id_task) {
            targets.resize({items.size(), train.labels.shape()[1]});
            for (std::size_t r = 0; r < items.size(); ++r) {
              for (std::size_t c = 0; c < targets.shape()[1]; ++c) targets(r, c) = static_cast<T>(train.labels(items[r], c));
            }
            bce.set_targets(targets);
            const auto& logits = model_->logits(batch);
            loss_sum += static_cast<double>(bce.forward(logits));
            sample_size += static_cast<double>(bce.positive_labels());
            nn::detail::zero_like(d_logits, logits.shape());
            bce.backward(T(1), d_logits);
            model_->backward_logits(d_logits);
          } else {
            ids.clear();
            for (auto i : items) ids.push_back(train.identities[i]);
            auto& arc = model_->arcface_loss();
            arc.set_targets(std::span<const std::int64_t>(ids));
            const auto& pooled = model_->embed(batch);
            // ArcFace is the mean over its batch: times the batch, the batch's summed loss.
            const auto n = static_cast<double>(items.size());
            loss_sum += static_cast<double>(arc.forward(pooled)) * n;
            sample_size += n;
            auto& d_pooled = model_->prepare_pooled_gradient();
            arc.backward(static_cast<T>(n), d_pooled);
            model_->backward_pooled();
          }
        }
        if (comm_->size() > 1) {
          comm_->all_reduce_sum(model_->store().grads());
          std::array<double, 3> sums{loss_sum, sample_size, segments};
          comm_->all_reduce_sum(std::span<double>(sums));
          loss_sum = sums[0];
          sample_size = sums[1];
          segments = sums[2];
        }
        // Arrhythmia: an update without a positive label divides by 1 (fairseq-signals' sample size).
        const double denominator = std::max(sample_size, 1.0);
        opt.step(1.0 / denominator);
        ++step;
        const double loss = loss_sum / denominator;
        epoch_loss += loss;
        if (on_step) {
          step_record r;
          r.step = step;
          r.total_steps = total;
          r.loss = loss;
          r.learning_rate = opt.last_learning_rate();
          const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          r.segments_per_second = dt > 0 ? segments / dt : 0.0;
          r.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          on_step(r);
        }
      }
      epoch_record rec;
      rec.epoch = epoch;
      rec.train_loss = epoch_loss / static_cast<double>(per_epoch);
      if (valid != nullptr && valid->size() > 0) {
        // Rank 0 validates and tells the others: every rank keeps and stops at the same epoch.
        if (comm_->rank() == 0) {
          rec.valid_metric = id_task ? evaluate_identification(*model_, *valid, options_.leads)
                                     : headline_metric(model_->options().task, evaluate_arrhythmia(*model_, *valid, options_.leads));
        }
        if (comm_->size() > 1) comm_->broadcast(std::span<double>(&rec.valid_metric, 1), 0);
      }
      // Without validation the last epoch is kept; with it, the best (ties keep the earlier one).
      const double metric = valid != nullptr ? rec.valid_metric : static_cast<double>(epoch);
      if (metric > best_metric) {
        best_metric = metric;
        since_best = 0;
        rec.best = true;
        opt.values_to_host();
        std::copy(model_->store().values().begin(), model_->store().values().end(), best.begin());
      } else {
        ++since_best;
      }
      rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      history.push_back(rec);
      if (on_epoch) on_epoch(rec);
      if (valid != nullptr && since_best >= options_.patience) break;
    }
    std::copy(best.begin(), best.end(), model_->store().values().begin());
    best_metric_ = best_metric;
    return history;
  }

  /// The validation metric of the kept parameters (after fit with validation).
  [[nodiscard]] double best_metric() const { return best_metric_; }

 private:
  // Fisher-Yates with Philox draws keyed by (seed, epoch): the same order for a seed, any threads.
  void shuffle(std::vector<std::size_t>& order, std::size_t epoch) const {
    std::iota(order.begin(), order.end(), std::size_t{0});
    const random_stream rng(options_.seed, stream_id({0x73687566ULL /* "shuf" */, epoch}));
    for (std::size_t i = order.size(); i > 1; --i) {
      const auto j = static_cast<std::size_t>(rng.below(i - 1, static_cast<std::uint32_t>(i)));
      std::swap(order[i - 1], order[j]);
    }
  }

  model_type* model_;
  finetune_options options_;
  distributed::single_process alone_;
  distributed::communicator* comm_ = nullptr;
  double best_metric_ = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace ecgssl::pipeline

#pragma once
/// \file pretrainer.hpp
/// Drives any pretrain_objective (spec §4.4, §5): micro-batches of `batch_items` data items (CMSC
/// pairs, two views, or single segments) from a prefetching data::batch_loader, `update_freq`
/// micro-batches per update with gradients summed and divided by Σ sample_size, the reference
/// Adam (fairseq variant, betas (0.9, 0.98), eps 1e-6, decoupled weight decay 0.01) at a fixed
/// learning rate, the quantizer temperature set from the update count, callbacks after every
/// update, and checkpoints that make a resumed run continue bit for bit.
///
/// Reproducibility: every random draw is keyed by (seed, micro-step) (dropout, span mask, Gumbel
/// noise, negatives) or by (seed, epoch, item, part) (order, transform, lead mask), and the data
/// position (epoch, batch) is in the checkpoint, so the same seed and thread count give the same
/// loss curve, and a run resumed from the checkpoint of update k gives the updates k+1... of the
/// uninterrupted run.
///
/// Data parallelism (a distributed::communicator of N ranks): an update takes G = N x update_freq
/// consecutive micro-batches of the one global sequence (every epoch's seeded order, epoch after
/// epoch); rank r takes the update_freq batches at positions r x update_freq ... of them, and
/// its micro-steps are numbered as in a one-process run with update_freq G. So N ranks x F equal
/// one rank x N F micro-batches: the same batches, the same random draws, the same sample size;
/// only the order of the floating-point sum of the gradients differs. Each rank back-propagates
/// its summed loss; gradients, sample sizes and the logged sums are summed over the ranks (the
/// gradients in buckets started while the last micro-batch's backward runs,
/// distributed/gradient_buckets.hpp, or with `bucket_mb` 0 in one blocking sum after it), and every rank
/// takes the same optimizer step. CMSC's negatives and the quantizer's diversity statistics stay
/// within a micro-batch, as in the reference's DDP runs. Rank 0 writes checkpoints (the others
/// wait); every rank resumes from the file, with any N whose N x update_freq is the checkpoint's.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../core/error.hpp"
#include "../../core/parameter_store.hpp"
#include "../../core/philox.hpp"
#include "../../core/precision.hpp"
#include "../../data/batch_loader.hpp"
#include "../../distributed/communicator.hpp"
#include "../../distributed/gradient_buckets.hpp"
#include "../../io/checkpoint.hpp"
#include "../../optim/adam.hpp"
#include "../../optim/fixed_schedule.hpp"
#include "../../optim/optimizer.hpp"
#include "../../model/encoder_config.hpp"
#include "pretrain_objective.hpp"
#include "../logs/step_record.hpp"
#include "../../optim/training_backend.hpp"

namespace ecgssl::pipeline {

struct pretrainer_options {
  std::size_t batch_items = 64;      ///< data items (pairs) per micro-batch (spec §5: 64 per GPU)
  std::size_t update_freq = 1;       ///< micro-batches per update (spec §5: 2 with 4 GPUs)
  std::uint64_t seed = 1;            ///< spec §5: common.seed = 1
  double learning_rate = 5e-5;       ///< fixed (spec §5)
  double weight_decay = 0.01;
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-6;
  std::size_t loader_threads = 1;    ///< background batch builders (0 = in the training thread)
  std::string method = "custom";     ///< written to / checked against checkpoints
  /// What the data went through (data/preprocessing.hpp names): written to checkpoints so every
  /// later use applies the same, checked on resume.
  std::string preprocess = "none";
  /// The ranks of a data-parallel run (null: this process alone). Not owned; outlives the trainer.
  distributed::communicator* communicator = nullptr;
  /// Arithmetic of the matrix products (core/precision.hpp); written to checkpoints ("precision")
  /// and checked on resume. Weights, gradients and the optimizer stay float32 either way.
  ecgssl::precision precision = ecgssl::precision::fp32;
  /// Data parallelism: size of the gradient buckets whose sums over the ranks start while
  /// backward runs (MiB; 25 as PyTorch's DDP). 0: one blocking sum after backward.
  double bucket_mb = 25.0;
};

/// See the file comment. `Source` is a data::segment_source whose parts() matches the criterion.
template <class Objective, data::segment_source Source>
class pretrainer {
 public:
  using T = typename Objective::scalar_type;
  using loader_type = data::batch_loader<Source, typename Objective::transform_type, typename Objective::masking_type>;
  using backend_type = typename Objective::encoder_type::backend_type;
  using training_type = training_backend<adam, fixed_schedule, T, backend_type>;
  using optimizer_type = typename training_type::host_optimizer_type;

  pretrainer(Objective& objective, std::shared_ptr<const Source> source, pretrainer_options options)
      : objective_(&objective), source_(std::move(source)), options_(std::move(options)) {
    if (!source_ || source_->size() == 0) {
      throw data_error(at_field("data"), "no training item (no record has two complete 5 s segments?)",
                       "at least one item (a CMSC pair needs a record of at least 10 s)");
    }
    if (options_.batch_items == 0) throw config_error(at_field("batch_pairs"), "0", "at least 1");
    if (options_.update_freq == 0) throw config_error(at_field("update_freq"), "0", "at least 1");
    if (!(options_.bucket_mb >= 0) || options_.bucket_mb > 1e6) {
      throw config_error(at_field("bucket_mb"), std::to_string(options_.bucket_mb), "0 (one blocking sum) to 1e6 MiB");
    }
    if (options_.communicator == nullptr) options_.communicator = &alone_;
    comm_ = options_.communicator;
    if (comm_->size() > 1 && !std::is_same_v<backend_type, host>) {
      throw config_error(at_field("--device"), "several ranks on a GPU backend",
                         "the host backend for MPI data parallelism (NCCL all-reduce is not built yet)");
    }
    objective_->encoder().declare_parameters(store_);
    store_.allocate();
    if (comm_->size() > 1 && options_.bucket_mb > 0) {
      std::vector<std::size_t> sizes;
      for (const auto& e : store_.entries()) sizes.push_back(e.size);
      buckets_ = distributed::plan_gradient_buckets(sizes, sizeof(T), options_.bucket_mb * 1024.0 * 1024.0);
    }
    objective_->encoder().initialize(
        random_stream(options_.seed, stream_id({static_cast<std::uint64_t>(rng_purpose::init)})));
    // Every rank initialises from the same seed; rank 0's values are sent anyway, so no rank can
    // start from other weights (another build, another BLAS).
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      comm_->broadcast(store_.values(), 0);
    }
    if constexpr (requires { objective_->criterion().set_seed(options_.seed); }) {
      objective_->criterion().set_seed(options_.seed);
    }
    training_.emplace(store_,
                       adam{.beta1 = options_.beta1, .beta2 = options_.beta2, .eps = options_.eps,
                            .weight_decay = options_.weight_decay, .variant = adam_variant::fairseq},
                       fixed_schedule{.rate = options_.learning_rate});
    data::loader_options lo;
    lo.batch_size = options_.batch_items;
    lo.threads = options_.loader_threads;
    lo.prefetch = std::max<std::size_t>(2, options_.update_freq + 1);
    lo.seed = options_.seed;
    lo.shuffle = true;
    loader_ = std::make_unique<loader_type>(source_, lo, objective_->transform(), objective_->masking());
  }

  /// The parameters, current on the host (downloaded first when training on a device).
  [[nodiscard]] parameter_store<T>& parameters() {
    training_->synced_to_host();
    return store_;
  }
  /// The optimizer state, current on the host (downloaded first when training on a device).
  [[nodiscard]] optimizer_type& optimizer_state() { return training_->synced_to_host(); }
  [[nodiscard]] std::int64_t step() const { return training_->step_count(); }
  [[nodiscard]] const pretrainer_options& options() const { return options_; }

  /// One optimizer update over update_freq micro-batches.
  step_record train_step() {
    const precision_scope products(options_.precision);
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t u = training_->step_count();
    training_->zero_grad();
    double loss_sum = 0.0, sample_size = 0.0;
    std::size_t segments = 0;
    std::vector<std::pair<std::string, double>> terms;
    const std::uint64_t global = global_micro_batches();
    // The sums over the ranks start while the last micro-batch's backward runs (file comment).
    std::optional<distributed::bucketed_all_reduce<T>> sums_in_flight;
    for (std::size_t k = 0; k < options_.update_freq; ++k) {
      const data::batch b = next_batch();
      // The micro-step a one-process run with update_freq G gives this batch (file comment).
      const auto micro = static_cast<std::uint64_t>(u) * global +
                         static_cast<std::uint64_t>(comm_->rank()) * options_.update_freq + k;
      if constexpr (std::is_same_v<backend_type, host> && (std::is_same_v<T, float> || std::is_same_v<T, double>)) {
        if (k + 1 == options_.update_freq && !buckets_.empty()) {
          sums_in_flight.emplace(*comm_, store_.grads(), buckets_);
          objective_->encoder().set_backward_progress(
              [&sums_in_flight](std::size_t from) { sums_in_flight->gradients_final_from(from); });
        }
      }
      const micro_batch_result r = [&] {
        // The hook refers to this update's sums: it must not outlive them, even on an error.
        struct clear_hook {
          Objective* o;
          ~clear_hook() { o->encoder().set_backward_progress({}); }
        } guard{objective_};
        return objective_->accumulate(b, options_.seed, micro, u);
      }();
      loss_sum += r.loss_sum;
      sample_size += r.sample_size;
      segments += b.signals.shape()[0];
      if (terms.empty()) terms = r.terms;
      else for (std::size_t i = 0; i < terms.size(); ++i) terms[i].second += r.terms[i].second;
    }
    position_ += global;
    if (comm_->size() > 1) {
      if (sums_in_flight.has_value()) {
        sums_in_flight->finish();
      } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
        comm_->all_reduce_sum(store_.grads());
      }
      std::vector<double> sums{loss_sum, sample_size, static_cast<double>(segments)};
      for (const auto& t : terms) sums.push_back(t.second);
      comm_->all_reduce_sum(std::span<double>(sums));
      loss_sum = sums[0];
      sample_size = sums[1];
      segments = static_cast<std::size_t>(sums[2]);
      for (std::size_t i = 0; i < terms.size(); ++i) terms[i].second = sums[3 + i];
    }
    // spec §4.4: the summed gradient divided by the total sample size (masked frames)
    training_->step(1.0 / sample_size);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    elapsed_ += seconds;
    step_record r;
    r.step = training_->step_count();
    r.total_steps = total_steps_;
    r.loss = loss_sum / sample_size;
    for (auto& t : terms) t.second /= sample_size;
    r.terms = std::move(terms);
    r.learning_rate = training_->last_learning_rate();
    r.segments_per_second = seconds > 0 ? static_cast<double>(segments) / seconds : 0.0;
    r.elapsed_seconds = elapsed_;
    return r;
  }

  /// Trains until `total_steps` updates are done (counting resumed ones), calling
  /// `callback.on_step(record)` for every update and `on_end()` at the end; every
  /// `checkpoint_every` updates (0 = never) and at the end, writes `checkpoint_path` (if set).
  template <class... Callbacks>
  std::vector<step_record> run(std::int64_t total_steps, const std::string& checkpoint_path, std::int64_t checkpoint_every,
                               Callbacks&... callbacks) {
    total_steps_ = total_steps;
    std::vector<step_record> history;
    while (training_->step_count() < total_steps) {
      step_record r = train_step();
      (callbacks.on_step(r), ...);
      history.push_back(r);
      if (!checkpoint_path.empty() && checkpoint_every > 0 && r.step % checkpoint_every == 0 && r.step < total_steps) {
        save_checkpoint(checkpoint_path);
      }
    }
    if (!checkpoint_path.empty()) save_checkpoint(checkpoint_path);
    (callbacks.on_end(), ...);
    return history;
  }

  /// The configuration written to "ecgssl.config": encoder options, method and the run settings
  /// that a resumed run must share.
  [[nodiscard]] nlohmann::json config_json() const {
    nlohmann::json j;
    model::encoder_config::write_checkpoint_config(j, objective_->encoder().options());
    j["method"] = options_.method;
    j["preprocess"] = options_.preprocess;
    j["batch_items"] = options_.batch_items;
    // What the batches and draws depend on is the global number of micro-batches per update:
    // N ranks x update_freq (written as "update_freq" for one rank, as before data parallelism).
    j["update_freq"] = global_micro_batches();
    j["seed"] = options_.seed;
    j["learning_rate"] = options_.learning_rate;
    j["weight_decay"] = options_.weight_decay;
    j["precision"] = std::string(to_string(options_.precision));
    return j;
  }

  /// Writes parameters, optimizer moments and step, data position and seed, atomically (a failed
  /// write leaves any previous file unchanged and throws io_error).
  void save_checkpoint(const std::filesystem::path& path) {
    io::checkpoint ck;
    optimizer_type& synced = training_->synced_to_host();
    ck.add_parameters(store_);
    for (const auto& t : synced.state_tensors()) {
      ck.add_tensor<T>(t.name, t.shape, std::span<const T>(t.values.data(), t.values.size()));
    }
    ck.add_scalar("trainer.step", synced.step_count());
    const auto [epoch, batch] = epoch_and_batch(position_);
    ck.add_scalar("trainer.epoch", static_cast<std::int64_t>(epoch));
    ck.add_scalar("trainer.batch", static_cast<std::int64_t>(batch));
    ck.add_scalar("trainer.seed", static_cast<std::int64_t>(options_.seed));
    ck.set_config(config_json().dump());
    // One writer: rank 0 (every rank holds the same values); the others wait for the file.
    if (comm_->rank() == 0) ck.save(path);
    comm_->barrier();
  }

  /// Restores a checkpoint written by save_checkpoint of the same configuration (config_error
  /// naming the differing setting otherwise; io_error if names or shapes do not match). On any
  /// error the trainer is unchanged.
  void resume(const std::filesystem::path& path) {
    const io::checkpoint ck = io::checkpoint::load(path);
    const auto text = ck.config();
    if (!text) {
      throw config_error(in_file(path.string(), "ecgssl.config"), "the checkpoint has no configuration",
                         "a checkpoint written by ecgssl pretrain");
    }
    nlohmann::json saved;
    try {
      saved = nlohmann::json::parse(*text);
    } catch (const nlohmann::json::exception& e) {
      throw config_error(in_file(path.string(), "ecgssl.config"), std::string("invalid JSON: ") + e.what(),
                         "the JSON configuration ecgssl pretrain writes");
    }
    const nlohmann::json mine = config_json();
    // The encoder is compared as options, so a checkpoint in either configuration form resumes.
    const auto saved_encoder = model::encoder_config::to_json(model::encoder_config::from_checkpoint_config(saved, path.string() + " ecgssl.config"));
    const auto my_encoder = model::encoder_config::to_json(objective_->encoder().options());
    if (saved_encoder != my_encoder) {
      throw config_error(in_file(path.string(), "ecgssl.config"), "checkpoint has encoder " + saved_encoder.dump(),
                         my_encoder.dump() + " (resume with the settings of the interrupted run)");
    }
    // Checkpoints from before the key existed were all trained on millivolts.
    if (!saved.contains("preprocess")) saved["preprocess"] = "none";
    // ... and in float32.
    if (!saved.contains("precision")) saved["precision"] = "fp32";
    for (const char* key : {"method", "preprocess", "batch_items", "update_freq", "seed", "learning_rate", "weight_decay", "precision"}) {
      if (!saved.contains(key) || saved[key] != mine[key]) {
        throw config_error(in_file(path.string(), std::string("ecgssl.config.") + key),
                           "checkpoint has " + (saved.contains(key) ? saved[key].dump() : std::string("nothing")),
                           mine[key].dump() + " (resume with the settings of the interrupted run)");
      }
    }
    // Read everything into scratch buffers first, so a failure changes nothing.
    std::vector<T> params(store_.size());
    ck.load_buffer(store_, std::span<T>(params), std::string());
    std::vector<std::pair<std::string, std::vector<T>>> state;
    optimizer_type& host_optimizer = training_->host_optimizer();
    for (const auto& t : host_optimizer.state_tensors()) {
      std::vector<T> values(t.values.size());
      ck.read_tensor<T>(t.name, t.shape, std::span<T>(values));
      state.emplace_back(t.name, std::move(values));
    }
    const std::int64_t step = ck.scalar("trainer.step");
    const std::int64_t epoch = ck.scalar("trainer.epoch");
    const std::int64_t batch = ck.scalar("trainer.batch");
    if (step < 0 || epoch < 0 || batch < 0 || static_cast<std::size_t>(batch) > loader_->batches_per_epoch()) {
      throw io_error(in_file(path.string(), "trainer.batch"), "data position " + std::to_string(batch),
                     "at most " + std::to_string(loader_->batches_per_epoch()) + " batches per epoch (same data?)");
    }
    std::copy(params.begin(), params.end(), store_.values().begin());
    for (const auto& [name, values] : state) host_optimizer.load_state_tensor(name, std::span<const T>(values));
    host_optimizer.set_step_count(step);
    training_->loaded_on_host();
    position_ = static_cast<std::uint64_t>(epoch) * loader_->batches_per_epoch() + static_cast<std::uint64_t>(batch);
    started_ = false;
  }

 private:
  [[nodiscard]] std::uint64_t global_micro_batches() const {
    return static_cast<std::uint64_t>(comm_->size()) * options_.update_freq;
  }

  // A global batch position as the checkpoint's (epoch, batch): the epoch of the last batch taken
  // and how many of its batches were taken (batches_per_epoch() at an epoch's end, as a
  // one-process run leaves it).
  [[nodiscard]] std::pair<std::uint64_t, std::size_t> epoch_and_batch(std::uint64_t position) const {
    const std::uint64_t per_epoch = loader_->batches_per_epoch();
    if (position > 0 && position % per_epoch == 0) return {position / per_epoch - 1, static_cast<std::size_t>(per_epoch)};
    return {position / per_epoch, static_cast<std::size_t>(position % per_epoch)};
  }

  // This rank's batches of epoch `epoch` from global position `from` on: position q belongs to
  // rank (q mod G) / update_freq.
  [[nodiscard]] std::vector<std::size_t> my_batches(std::uint64_t epoch, std::uint64_t from) const {
    const std::uint64_t per_epoch = loader_->batches_per_epoch(), global = global_micro_batches();
    std::vector<std::size_t> out;
    for (std::uint64_t i = 0; i < per_epoch; ++i) {
      const std::uint64_t q = epoch * per_epoch + i;
      if (q >= from && (q % global) / options_.update_freq == static_cast<std::uint64_t>(comm_->rank())) {
        out.push_back(static_cast<std::size_t>(i));
      }
    }
    return out;
  }

  // The next batch of this rank: the loader runs one epoch at a time over this rank's batches.
  data::batch next_batch() {
    const std::uint64_t per_epoch = loader_->batches_per_epoch();
    if (!started_) {
      loader_epoch_ = position_ / per_epoch;
      start_loader(position_);
      started_ = true;
    }
    for (;;) {
      if (loader_running_) {
        if (auto b = loader_->next()) return std::move(*b);
      }
      ++loader_epoch_;
      start_loader(loader_epoch_ * per_epoch);
    }
  }

  void start_loader(std::uint64_t from) {
    auto batches = my_batches(loader_epoch_, from);
    loader_running_ = !batches.empty();  // an empty list would mean every batch to the loader
    if (loader_running_) loader_->start_epoch(loader_epoch_, std::move(batches));
  }

  Objective* objective_;
  std::shared_ptr<const Source> source_;
  pretrainer_options options_;
  parameter_store<T> store_;
  std::optional<training_type> training_;
  std::unique_ptr<loader_type> loader_;
  distributed::single_process alone_;
  std::vector<distributed::gradient_bucket> buckets_;  // empty: one blocking sum (or one rank)
  distributed::communicator* comm_ = nullptr;
  std::uint64_t position_ = 0;      // global batches taken by all ranks (epoch x batches_per_epoch + batch)
  std::uint64_t loader_epoch_ = 0;  // the epoch this rank's loader is in
  bool loader_running_ = false;
  bool started_ = false;
  std::int64_t total_steps_ = 0;
  double elapsed_ = 0.0;
};

}  // namespace ecgssl::pipeline

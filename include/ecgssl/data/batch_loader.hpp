#pragma once
/// \file batch_loader.hpp
/// Background prefetching of [batch, 12, 2500] float batches (spec §2.5) from a segment_source.
///
/// Per epoch the items are put in a random order (Fisher-Yates driven by the Philox stream
/// (seed, {shuffle, epoch}); or kept in order) and cut into batches of `batch_size` items; an item
/// of a CMSC source contributes its parts() segments next to each other, so a batch of B pairs
/// holds 2B segments (item 0 part 0, item 0 part 1, item 1 part 0, ...). Every segment passes
/// through the signal transform and then the masking policy, with random streams keyed by
/// (seed, epoch, item, part) only, so the batches are bit-identical for a seed whatever the
/// number of threads and whatever the order in which the threads finish.
///
/// Threads claim whole batches. At most `prefetch` batches exist at once (being built or
/// waiting), so memory is bounded by prefetch * batch size; batches are handed out strictly in
/// order. An exception thrown while building a batch (a bad record, a transform error) is stored
/// and rethrown by next() when the consumer reaches that batch; the other threads are stopped.
/// The destructor (or stop()) wakes and joins every thread. threads = 0 builds batches in
/// next() on the caller's thread.

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "../core/concepts.hpp"
#include "../core/error.hpp"
#include "../core/philox.hpp"
#include "../masking/no_lead_mask.hpp"
#include "segment_source.hpp"

namespace ecgssl::data {

/// The identity transform (default of the loader).
struct no_transform {
  void apply(tensor<float, 2>&, signal_context&) const {}
};

/// One batch: signals plus per-segment metadata and kept-lead masks.
struct batch {
  tensor<float, 3> signals;               ///< [segments, leads, samples]
  std::vector<segment_meta> meta;         ///< one per segment
  std::vector<std::uint32_t> kept_leads;  ///< masking policy result per segment
  std::vector<std::size_t> items;         ///< source item of each segment
  std::size_t index = 0;                  ///< batch number within the epoch
};

struct loader_options {
  std::size_t batch_size = 8;   ///< items per batch (pairs for a CMSC source)
  std::size_t threads = 2;      ///< background threads (0 = build in next())
  std::size_t prefetch = 4;     ///< batches in flight at most (>= 1)
  std::uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = false;       ///< drop a final batch smaller than batch_size
  std::size_t leads = 12;       ///< expected shape of every segment after the transform
  std::size_t samples = 2500;
  double sampling_frequency = 500.0;  ///< given to the transform in its signal_context
};

/// Prefetching batch loader; see the file comment.
template <segment_source Source, signal_transform Transform = no_transform,
          masking_policy Masking = masking::no_lead_mask>
class batch_loader {
 public:
  batch_loader(std::shared_ptr<const Source> source, loader_options options, Transform transform = Transform(),
               Masking masking = Masking())
      : source_(std::move(source)), options_(options), transform_(std::move(transform)), masking_(std::move(masking)) {
    if (!source_) throw config_error(at_field("source"), "no source", "a segment source");
    if (options_.batch_size == 0) throw config_error(at_field("batch_size"), "0", "at least 1");
    if (options_.prefetch == 0) throw config_error(at_field("prefetch"), "0", "at least 1");
  }
  batch_loader(const batch_loader&) = delete;
  batch_loader& operator=(const batch_loader&) = delete;
  ~batch_loader() { stop(); }

  /// Batches in one epoch.
  [[nodiscard]] std::size_t batches_per_epoch() const {
    const std::size_t n = source_->size();
    return options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
  }

  /// Starts epoch `epoch` (stopping a running one): computes the order and starts the threads.
  void start_epoch(std::uint64_t epoch) { start_epoch(epoch, std::vector<std::size_t>()); }

  /// Starts epoch `epoch` yielding only the batches numbered in `batches` (increasing, each below
  /// batches_per_epoch()), in that order: one rank's share of a data-parallel run, or the rest of
  /// an epoch after a resume. An empty list means every batch of the epoch.
  void start_epoch(std::uint64_t epoch, std::vector<std::size_t> batches) {
    stop();
    if (batches.empty()) {
      batches.resize(batches_per_epoch());
      for (std::size_t i = 0; i < batches.size(); ++i) batches[i] = i;
    }
    for (std::size_t i = 0; i < batches.size(); ++i) {
      if (batches[i] >= batches_per_epoch() || (i > 0 && batches[i] <= batches[i - 1])) {
        throw config_error(at_field("batches"), "batch " + std::to_string(batches[i]) + " at position " + std::to_string(i),
                           "increasing batch numbers below " + std::to_string(batches_per_epoch()));
      }
    }
    schedule_ = std::move(batches);
    epoch_ = epoch;
    order_.resize(source_->size());
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
    if (options_.shuffle) {
      const random_stream rng(options_.seed, stream_id({static_cast<std::uint64_t>(rng_purpose::shuffle), epoch}));
      for (std::size_t i = order_.size(); i-- > 1;) {
        const std::size_t j = rng.below(i, static_cast<std::uint32_t>(i + 1));
        std::swap(order_[i], order_[j]);
      }
    }
    total_ = schedule_.size();
    next_claim_ = 0;
    next_consume_ = 0;
    stopping_ = false;
    ring_.assign(options_.prefetch, std::nullopt);
    started_ = true;
    for (std::size_t t = 0; t < options_.threads; ++t) workers_.emplace_back([this] { work(); });
  }

  /// The next batch of the epoch, or nothing at its end. Rethrows a worker's exception.
  std::optional<batch> next() {
    if (!started_) throw config_error(at_field("epoch"), "next() before start_epoch()", "start_epoch(epoch) first");
    if (next_consume_ >= total_) {
      stop();
      return std::nullopt;
    }
    if (stopping_) {
      throw config_error(at_field("epoch"), "the loader was stopped (or a batch failed) in the middle of an epoch",
                         "start_epoch(epoch) before asking for more batches");
    }
    result r;
    if (options_.threads == 0) {
      r = build_guarded(schedule_[next_consume_]);
    } else {
      std::unique_lock lock(mutex_);
      auto& slot = ring_[next_consume_ % options_.prefetch];
      ready_.wait(lock, [&] { return slot.has_value(); });
      r = std::move(*slot);
      slot.reset();
    }
    {
      std::lock_guard lock(mutex_);
      ++next_consume_;
    }
    work_.notify_all();
    if (auto* failure = std::get_if<std::exception_ptr>(&r)) {
      stop();
      std::rethrow_exception(*failure);
    }
    return std::move(std::get<batch>(r));
  }

  /// Stops and joins the threads; the loader can start another epoch afterwards.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_.notify_all();
    for (auto& w : workers_) {
      if (w.joinable()) w.join();
    }
    workers_.clear();
  }

  /// Builds batch `index` of the current epoch directly (used by the threads; handy in tests).
  [[nodiscard]] batch build(std::size_t index) const {
    const std::size_t first = index * options_.batch_size;
    const std::size_t last = std::min(first + options_.batch_size, order_.size());
    const std::size_t parts = source_->parts();
    const std::size_t count = (last - first) * parts;
    batch b;
    b.index = index;
    b.signals = tensor<float, 3>::from_shape({count, options_.leads, options_.samples});
    b.meta.resize(count);
    b.kept_leads.resize(count);
    b.items.resize(count);
    thread_local tensor<float, 2> x;  // reused across segments: no allocation per segment
    const std::size_t stride = options_.leads * options_.samples;
    for (std::size_t k = first; k < last; ++k) {
      const std::size_t item = order_[k];
      for (std::size_t p = 0; p < parts; ++p) {
        const std::size_t s = (k - first) * parts + p;
        source_->read(item, p, x, b.meta[s]);
        signal_context ctx;
        ctx.sampling_frequency = options_.sampling_frequency;
        ctx.rng = random_stream(options_.seed, stream_id({static_cast<std::uint64_t>(rng_purpose::augmentation),
                                                          epoch_, item, p}));
        transform_.apply(x, ctx);
        if (x.shape()[0] != options_.leads || x.shape()[1] != options_.samples) {
          throw shape_error(at_field("segment " + std::to_string(b.meta[s].segment) + " of record " + b.meta[s].record_id),
                            "shape " + shape_string(x.shape()),
                            shape_string(std::array<std::size_t, 2>{options_.leads, options_.samples}));
        }
        const random_stream mask_rng(options_.seed,
                                     stream_id({static_cast<std::uint64_t>(rng_purpose::lead_mask), epoch_, item, p}));
        b.kept_leads[s] = masking_.apply(x, mask_rng);
        std::copy_n(x.data(), stride, b.signals.data() + s * stride);
        b.items[s] = item;
      }
    }
    return b;
  }

 private:
  using result = std::variant<batch, std::exception_ptr>;

  result build_guarded(std::size_t index) const {
    try {
      return build(index);
    } catch (...) {
      return std::current_exception();
    }
  }

  void work() {
    for (;;) {
      std::size_t index = 0;
      {
        std::unique_lock lock(mutex_);
        work_.wait(lock, [&] {
          return stopping_ || next_claim_ >= total_ || next_claim_ < next_consume_ + options_.prefetch;
        });
        if (stopping_ || next_claim_ >= total_) return;
        index = next_claim_++;
      }
      result r = build_guarded(schedule_[index]);
      {
        std::lock_guard lock(mutex_);
        ring_[index % options_.prefetch] = std::move(r);
      }
      ready_.notify_all();
    }
  }

  std::shared_ptr<const Source> source_;
  loader_options options_;
  Transform transform_;
  Masking masking_;

  std::uint64_t epoch_ = 0;
  std::vector<std::size_t> order_;
  std::vector<std::size_t> schedule_;  // the batches of this epoch to build, in order
  std::size_t total_ = 0;
  bool started_ = false;

  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable ready_;
  std::size_t next_claim_ = 0;
  std::size_t next_consume_ = 0;
  bool stopping_ = false;
  std::vector<std::optional<result>> ring_;
  std::vector<std::thread> workers_;
};

}  // namespace ecgssl::data

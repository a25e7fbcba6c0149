// Tests of include/ecgssl/data/ (batch loader, in-memory and paired sources). They live in the io
// test program because the test areas have no "data" program.
#include <ecgssl/data/batch_loader.hpp>
#include <ecgssl/data/in_memory_source.hpp>
#include <ecgssl/data/paired_source.hpp>
#include <ecgssl/masking/random_lead_mask.hpp>
#include <ecgssl/signal/emg_noise.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

using namespace ecgssl::data;
using ecgssl::tensor;

namespace {
// Item i: every sample of lead l equals i * 100 + l; record "r<i/2>", segment i % 2.
std::shared_ptr<in_memory_source> make_source(std::size_t n, std::size_t samples = 2500) {
  auto source = std::make_shared<in_memory_source>();
  for (std::size_t i = 0; i < n; ++i) {
    tensor<float, 2> x = tensor<float, 2>::from_shape({12, samples});
    for (std::size_t l = 0; l < 12; ++l)
      for (std::size_t t = 0; t < samples; ++t) x(l, t) = static_cast<float>(i * 100 + l);
    segment_meta m;
    m.record_id = "r" + std::to_string(i / 2);
    m.segment = i % 2;
    m.labels = std::vector<float>(26, 0.0f);
    m.labels[i % 26] = 1.0f;
    source->add(std::move(x), std::move(m));
  }
  return source;
}

template <class Loader>
std::vector<batch> drain(Loader& loader, std::uint64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

// Counts reads and can fail at one item.
struct probe_source {
  std::size_t n = 40;
  std::size_t fail_at = static_cast<std::size_t>(-1);
  mutable std::atomic<std::size_t> reads{0};
  std::size_t size() const { return n; }
  std::size_t parts() const { return 1; }
  void read(std::size_t item, std::size_t, tensor<float, 2>& x, segment_meta& meta) const {
    ++reads;
    if (item == fail_at) throw ecgssl::data_error(ecgssl::in_file("bad_record.mat"), "NaN in lead II");
    x = tensor<float, 2>::from_shape({12, 2500});
    x.fill(static_cast<float>(item));
    meta.record_id = std::to_string(item);
  }
};

struct truncate_to_ten {
  void apply(tensor<float, 2>& x, ecgssl::signal_context&) const { x = tensor<float, 2>::from_shape({12, 10}); }
};
}  // namespace

static_assert(segment_source<in_memory_source>);
static_assert(segment_source<paired_source<in_memory_source>>);
static_assert(segment_source<probe_source>);

TEST_CASE("batches are identical for a seed whatever the thread count and prefetch depth") {
  const auto source = make_source(37, 50);
  using loader_t = batch_loader<in_memory_source, ecgssl::signal::emg_noise, ecgssl::masking::random_lead_mask>;
  std::vector<std::vector<batch>> runs;
  for (auto [threads, prefetch] : {std::pair<std::size_t, std::size_t>{0, 1}, {1, 1}, {3, 2}, {4, 8}}) {
    loader_options options;
    options.samples = 50;
    options.seed = 11;
    options.threads = threads;
    options.prefetch = prefetch;
    loader_t loader(source, options);
    runs.push_back(drain(loader, 3));
  }
  for (std::size_t r = 1; r < runs.size(); ++r) {
    REQUIRE(runs[r].size() == runs[0].size());
    for (std::size_t b = 0; b < runs[0].size(); ++b) {
      CHECK(runs[r][b].index == b);
      CHECK(runs[r][b].signals == runs[0][b].signals);
      CHECK(runs[r][b].kept_leads == runs[0][b].kept_leads);
      CHECK(runs[r][b].meta == runs[0][b].meta);
    }
  }
}

TEST_CASE("an epoch visits every item once, in a seeded order, with matching metadata") {
  const auto source = make_source(37, 20);
  loader_options options;
  options.samples = 20;
  options.seed = 5;
  batch_loader<in_memory_source> loader(source, options);
  CHECK(loader.batches_per_epoch() == 5);
  const auto epoch0 = drain(loader, 0);
  REQUIRE(epoch0.size() == 5);
  CHECK(epoch0.back().signals.shape()[0] == 5);  // 37 = 4 * 8 + 5
  std::vector<std::size_t> seen;
  for (const auto& b : epoch0) {
    for (std::size_t s = 0; s < b.items.size(); ++s) {
      const std::size_t item = b.items[s];
      seen.push_back(item);
      CHECK(b.signals(s, 3, 7) == static_cast<float>(item * 100 + 3));
      CHECK(b.meta[s].record_id == "r" + std::to_string(item / 2));
      CHECK(b.meta[s].labels[item % 26] == 1.0f);
      CHECK(b.kept_leads[s] == 0xFFFu);
    }
  }
  std::vector<std::size_t> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < 37; ++i) CHECK(sorted[i] == i);
  CHECK(seen != sorted);  // shuffled
  const auto epoch1 = drain(loader, 1);
  CHECK(epoch1[0].items != epoch0[0].items);
  CHECK(drain(loader, 0)[0].items == epoch0[0].items);

  options.shuffle = false;
  options.drop_last = true;
  batch_loader<in_memory_source> ordered(source, options);
  const auto plain = drain(ordered, 0);
  REQUIRE(plain.size() == 4);
  CHECK(plain[1].items == std::vector<std::size_t>{8, 9, 10, 11, 12, 13, 14, 15});
}

TEST_CASE("memory stays bounded by the prefetch depth") {
  auto source = std::make_shared<probe_source>();
  loader_options options;
  options.threads = 4;
  options.prefetch = 2;
  options.shuffle = false;
  batch_loader<probe_source> loader(source, options);
  loader.start_epoch(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(source->reads.load() <= 2 * 8);  // nothing consumed yet: at most 2 batches built
  std::size_t consumed = 0;
  while (auto b = loader.next()) {
    ++consumed;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(source->reads.load() <= (consumed + 2) * 8);
  }
  CHECK(consumed == 5);
  CHECK(source->reads.load() == 40);
}

TEST_CASE("a worker's exception reaches the consumer and the loader shuts down cleanly") {
  auto source = std::make_shared<probe_source>();
  source->fail_at = 13;
  loader_options options;
  options.threads = 3;
  options.shuffle = false;
  batch_loader<probe_source> loader(source, options);
  loader.start_epoch(0);
  CHECK(loader.next().has_value());  // items 0..7
  try {
    (void)loader.next();  // items 8..15 include 13
    FAIL("expected data_error");
  } catch (const ecgssl::data_error& e) {
    CHECK(std::string(e.what()).find("bad_record.mat") != std::string::npos);
  }
  CHECK_THROWS_AS((void)loader.next(), ecgssl::config_error);  // stopped, not hanging
  loader.start_epoch(1);  // usable again
  CHECK(loader.next().has_value());
}

TEST_CASE("destroying a loader in the middle of an epoch joins its threads") {
  auto source = std::make_shared<probe_source>();
  source->n = 400;
  loader_options options;
  options.threads = 4;
  options.prefetch = 3;
  {
    batch_loader<probe_source> loader(source, options);
    loader.start_epoch(0);
    CHECK(loader.next().has_value());
  }  // threads blocked on a full queue must wake up and exit
  CHECK(source->reads.load() <= (1 + 3) * 8);
}

TEST_CASE("segments of the wrong shape after the transform are reported") {
  const auto source = make_source(4);
  loader_options options;
  options.threads = 1;
  batch_loader<in_memory_source, truncate_to_ten> loader(source, options);
  loader.start_epoch(0);
  CHECK_THROWS_AS((void)loader.next(), ecgssl::shape_error);
  CHECK_THROWS_AS((batch_loader<in_memory_source>(source, loader_options{.batch_size = 0})), ecgssl::config_error);
}

TEST_CASE("CMSC pairs: a batch of B pairs holds 2B segments, the two parts side by side") {
  const auto inner = make_source(9, 10);  // records r0..r3 with segments 0,1 and r4 with segment 0 only
  const auto pairs = std::make_shared<paired_source<in_memory_source>>(
      paired_source<in_memory_source>::from_records(inner));
  REQUIRE(pairs->size() == 4);
  loader_options options;
  options.samples = 10;
  options.batch_size = 3;
  options.seed = 2;
  batch_loader<paired_source<in_memory_source>> loader(pairs, options);
  const auto batches = drain(loader, 0);
  REQUIRE(batches.size() == 2);
  CHECK(batches[0].signals.shape()[0] == 6);
  CHECK(batches[1].signals.shape()[0] == 2);
  std::set<std::string> records;
  for (const auto& b : batches) {
    for (std::size_t s = 0; s < b.meta.size(); s += 2) {
      CHECK(b.meta[s].record_id == b.meta[s + 1].record_id);
      CHECK(b.meta[s].segment == 0);
      CHECK(b.meta[s + 1].segment == 1);
      records.insert(b.meta[s].record_id);
    }
  }
  CHECK(records == std::set<std::string>{"r0", "r1", "r2", "r3"});
}

TEST_CASE("an epoch can yield a chosen subset of its batches (one rank's share, or the rest after a resume)") {
  const auto source = make_source(37, 20);
  for (const std::size_t threads : {0, 2}) {
    CAPTURE(threads);
    loader_options options;
    options.samples = 20;
    options.seed = 5;
    options.threads = threads;
    batch_loader<in_memory_source> loader(source, options);
    const auto all = drain(loader, 2);
    REQUIRE(all.size() == 5);
    loader.start_epoch(2, {1, 3, 4});
    for (const std::size_t expected : {1, 3, 4}) {
      auto b = loader.next();
      REQUIRE(b.has_value());
      CHECK(b->index == expected);
      CHECK(b->items == all[expected].items);
      CHECK(b->signals == all[expected].signals);
    }
    CHECK_FALSE(loader.next().has_value());
  }
  batch_loader<in_memory_source> loader(source, loader_options{.batch_size = 8, .threads = 0, .samples = 20});
  for (const auto& bad : {std::vector<std::size_t>{5}, std::vector<std::size_t>{2, 2}, std::vector<std::size_t>{3, 1}}) {
    CHECK_THROWS_AS(loader.start_epoch(0, bad), ecgssl::config_error);
  }
}

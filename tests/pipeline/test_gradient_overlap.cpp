// Data-parallel pre-training in one process (pipeline/pretraining/pretrainer.hpp with a
// communicator that records what it is asked): the gradient sums start while backward runs, in
// buckets that cover the buffer once, and the update equals the one a blocking sum gives.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "ecgssl/data/wfdb_dataset.hpp"
#include "ecgssl/pipeline/pretraining/pretrain_method.hpp"
#include "ecgssl/pipeline/pretraining/pretrainer.hpp"

using namespace ecgssl;
using namespace ecgssl::pipeline;

namespace {

using tiny = model::tiny_config<float>;
using paper_objective = w2v_cmsc_rlm_objective<tiny>;
using pair_source = data::paired_source<data::record_source>;

// Rank 0 of 2 whose partner contributes nothing: every sum leaves the values as they are, so a
// bucketed update must equal the blocking one bit for bit. It records when each sum started.
class silent_partner final : public distributed::communicator {
 public:
  explicit silent_partner(const float* const* gradients) : gradients_(gradients) {}
  [[nodiscard]] int rank() const override { return 0; }
  [[nodiscard]] int size() const override { return 2; }
  [[nodiscard]] int local_rank() const override { return 0; }
  void all_reduce_sum(std::span<float> v) override { blocking_elements += v.size(); }
  void all_reduce_sum(std::span<double>) override {}
  void broadcast(std::span<float>, int) override {}
  void broadcast(std::span<double>, int) override {}
  void barrier() override {}
  void all_gather(double value, std::span<double> out) override { std::fill(out.begin(), out.end(), value); }
  void start_all_reduce_sum(std::span<float> v) override {
    started.push_back({static_cast<std::size_t>(v.data() - *gradients_), v.size()});
    ++started_since_wait;
  }
  // The bucketed sums call progress() after the starts a layer's backward allows, and finish()
  // starts the rest and waits: what had started at the last progress() started during backward.
  void progress() override {
    ++progress_calls;
    started_at_last_progress = started_since_wait;
  }
  void wait_all() override {
    started_during_backward.push_back(started_at_last_progress);
    started_since_wait = started_at_last_progress = 0;
  }
  std::vector<std::pair<std::size_t, std::size_t>> started;  // (offset, length)
  std::vector<std::size_t> started_during_backward;  // per update
  std::size_t started_since_wait = 0, started_at_last_progress = 0, blocking_elements = 0;
  int progress_calls = 0;

 private:
  const float* const* gradients_;
};

pretrainer_options two_rank_run(distributed::communicator& comm, double bucket_mb) {
  pretrainer_options o;
  o.batch_items = 2;
  o.update_freq = 2;
  o.seed = 9;
  o.method = "w2v_cmsc_rlm";
  o.loader_threads = 0;
  o.communicator = &comm;
  o.bucket_mb = bucket_mb;
  return o;
}

}  // namespace

TEST_CASE("gradient sums start during the last micro-batch's backward and give the blocking sum's update") {
  const data::wfdb_dataset data(std::filesystem::path(ECGSSL_TEST_DATA_DIR) / "records" / "challenge");
  const float* base = nullptr;

  silent_partner bucketed_comm(&base);
  paper_objective bucketed_objective(tiny::options());
  pretrainer<paper_objective, pair_source> bucketed(bucketed_objective, data.pairs(), two_rank_run(bucketed_comm, 0.05));
  base = bucketed.parameters().grads().data();
  const std::size_t total = bucketed.parameters().size();

  silent_partner blocking_comm(&base);
  paper_objective blocking_objective(tiny::options());
  pretrainer<paper_objective, pair_source> blocking(blocking_objective, data.pairs(), two_rank_run(blocking_comm, 0.0));

  for (int step = 0; step < 2; ++step) {
    bucketed.train_step();
    blocking.train_step();
  }
  // Blocking: one sum of the whole buffer per update, nothing started.
  CHECK(blocking_comm.blocking_elements == 2 * total);
  CHECK(blocking_comm.started.empty());
  // Bucketed: no blocking sum of gradients; per update, the buckets cover the buffer exactly once,
  // from its end, and most of them started before the wait (while backward still ran).
  CHECK(bucketed_comm.blocking_elements == 0);
  REQUIRE(bucketed_comm.started_during_backward.size() == 2);
  const std::size_t per_update = bucketed_comm.started.size() / 2;
  CHECK(per_update >= 10);  // 0.05 MiB buckets over the tiny encoder's 0.9 M parameters
  for (int u = 0; u < 2; ++u) {
    std::size_t expected_end = total;
    for (std::size_t i = 0; i < per_update; ++i) {
      const auto [offset, length] = bucketed_comm.started[u * per_update + i];
      CHECK(offset + length == expected_end);
      expected_end = offset;
    }
    CHECK(expected_end == 0);
  }
  CHECK(bucketed_comm.progress_calls >= 2 * static_cast<int>(tiny::options().layers));
  // The transformer layers and heads hold most parameters: their buckets started during
  // backward; the extractor's and the front's are left for finish().
  for (const std::size_t during : bucketed_comm.started_during_backward) {
    CHECK(during * 2 >= per_update);
    CHECK(during < per_update);
  }
  // The same updates, bit for bit.
  const auto a = bucketed.parameters().values();
  const auto b = blocking.parameters().values();
  REQUIRE(a.size() == b.size());
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
}

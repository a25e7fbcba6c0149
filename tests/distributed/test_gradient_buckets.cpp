// Gradient buckets of data-parallel training (distributed/gradient_buckets.hpp): the plan cuts
// only between parameters and covers the buffer once; the sums start in the order backward
// completes the buffer, never before a bucket is complete, and end equal to one blocking sum.
#include <ecgssl/distributed/gradient_buckets.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

namespace {

using ecgssl::distributed::gradient_bucket;

// Two "ranks" in one process: rank 1's gradients are a fixed second buffer, and every sum adds
// them into the span it is given. Records each started span (offset, length) and whether it was
// complete when started.
class two_rank_recorder final : public ecgssl::distributed::communicator {
 public:
  two_rank_recorder(const float* base, std::vector<float> other) : base_(base), other_(std::move(other)) {}
  [[nodiscard]] int rank() const override { return 0; }
  [[nodiscard]] int size() const override { return 2; }
  [[nodiscard]] int local_rank() const override { return 0; }
  void all_reduce_sum(std::span<float> v) override { add(v); }
  void all_reduce_sum(std::span<double>) override {}
  void broadcast(std::span<float>, int) override {}
  void broadcast(std::span<double>, int) override {}
  void barrier() override {}
  void all_gather(double value, std::span<double> out) override { out[0] = out[1] = value; }
  void start_all_reduce_sum(std::span<float> v) override {
    started.push_back({static_cast<std::size_t>(v.data() - base_), static_cast<std::size_t>(v.data() - base_) + v.size()});
    in_flight.push_back(v);
  }
  void progress() override { ++progress_calls; }
  void wait_all() override {
    for (auto v : in_flight) add(v);
    in_flight.clear();
    ++waits;
  }
  std::vector<gradient_bucket> started;
  std::vector<std::span<float>> in_flight;
  int progress_calls = 0, waits = 0;

 private:
  void add(std::span<float> v) {
    const std::size_t at = static_cast<std::size_t>(v.data() - base_);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] += other_[at + i];
  }
  const float* base_;
  std::vector<float> other_;
};

}  // namespace

TEST_CASE("gradient buckets are cut between parameters, from the buffer's end, about the asked size") {
  // parameters of 10, 30, 5, 5, 40, 10 elements; 4-byte elements; 64-byte buckets (16 elements)
  const std::vector<std::size_t> sizes{10, 30, 5, 5, 40, 10};
  const auto plan = ecgssl::distributed::plan_gradient_buckets(sizes, 4, 64.0);
  // From the end: [90,100) holds 10 (adding 40 would pass 16); [50,90) is one 40-element
  // parameter alone; [40,50) holds 5 + 5; [10,40) the 30 alone; [0,10) the first.
  const std::vector<gradient_bucket> expected{{90, 100}, {50, 90}, {40, 50}, {10, 40}, {0, 10}};
  CHECK(plan == expected);
  // One bucket for everything when it fits.
  const auto one = ecgssl::distributed::plan_gradient_buckets(sizes, 4, 1e9);
  CHECK(one == std::vector<gradient_bucket>{{0, 100}});
  // A bucket size of 0 is not a plan (0 means "no buckets" to the trainer, which plans none).
  CHECK_THROWS_AS(ecgssl::distributed::plan_gradient_buckets(sizes, 4, 0.0), ecgssl::config_error);
  // Buffers with empty parameters still end up covered exactly once.
  const std::vector<std::size_t> with_empty{0, 7, 0, 9};
  const auto covered = ecgssl::distributed::plan_gradient_buckets(with_empty, 4, 4.0);
  std::size_t total = 0, expected_begin = 16;
  for (const auto& b : covered) {
    CHECK(b.end == expected_begin);
    CHECK(b.begin < b.end);
    total += b.end - b.begin;
    expected_begin = b.begin;
  }
  CHECK(total == 16);
  CHECK(expected_begin == 0);
}

TEST_CASE("bucketed sums start as backward completes the buffer and end equal to one blocking sum") {
  const std::vector<std::size_t> sizes{10, 30, 5, 5, 40, 10};
  const auto plan = ecgssl::distributed::plan_gradient_buckets(sizes, 4, 64.0);
  std::vector<float> mine(100), theirs(100);
  for (std::size_t i = 0; i < 100; ++i) {
    mine[i] = 0.5f * static_cast<float>(i);
    theirs[i] = 1000.0f + static_cast<float>(i);
  }
  two_rank_recorder comm(mine.data(), theirs);
  ecgssl::distributed::bucketed_all_reduce<float> sums(comm, std::span<float>(mine), plan);
  // Backward has completed [95, 100): no bucket is whole yet.
  sums.gradients_final_from(95);
  CHECK(comm.started.empty());
  CHECK(comm.progress_calls == 1);
  // [50, 100) complete: the last two buckets start, in that order.
  sums.gradients_final_from(50);
  CHECK(comm.started == std::vector<gradient_bucket>{{90, 100}, {50, 90}});
  // Nothing is summed before the wait: the buffers are the sums' until then.
  CHECK(mine[99] == 49.5f);
  sums.gradients_final_from(45);
  CHECK(comm.started.size() == 2);
  sums.finish();
  CHECK(comm.started == plan);
  CHECK(comm.waits == 1);
  for (std::size_t i = 0; i < 100; ++i) {
    INFO("element " << i);
    CHECK(mine[i] == 0.5f * static_cast<float>(i) + 1000.0f + static_cast<float>(i));
  }
}

TEST_CASE("a communicator without non-blocking sums sums each bucket when it starts") {
  // The default start_all_reduce_sum is the blocking sum: one process, or a future transport.
  class blocking final : public ecgssl::distributed::communicator {
   public:
    [[nodiscard]] int rank() const override { return 0; }
    [[nodiscard]] int size() const override { return 2; }
    [[nodiscard]] int local_rank() const override { return 0; }
    void all_reduce_sum(std::span<float> v) override {
      for (auto& x : v) x *= 2.0f;  // two equal ranks
      calls.push_back(v.size());
    }
    void all_reduce_sum(std::span<double>) override {}
    void broadcast(std::span<float>, int) override {}
    void broadcast(std::span<double>, int) override {}
    void barrier() override {}
    void all_gather(double, std::span<double>) override {}
    std::vector<std::size_t> calls;
  } comm;
  std::vector<float> g(12, 1.5f);
  const std::vector<std::size_t> sizes{4, 4, 4};
  const auto plan = ecgssl::distributed::plan_gradient_buckets(sizes, 4, 16.0);
  ecgssl::distributed::bucketed_all_reduce<float> sums(comm, std::span<float>(g), plan);
  sums.gradients_final_from(8);
  CHECK(comm.calls == std::vector<std::size_t>{4});
  CHECK(g[11] == 3.0f);
  CHECK(g[0] == 1.5f);
  sums.finish();
  CHECK(comm.calls == std::vector<std::size_t>{4, 4, 4});
  CHECK(std::all_of(g.begin(), g.end(), [](float x) { return x == 3.0f; }));
}

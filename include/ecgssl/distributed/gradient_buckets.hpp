#pragma once
/// \file gradient_buckets.hpp
/// Summing the gradients over the ranks while backward still runs (issue 18).
///
/// The flat gradient buffer is cut into buckets of about `--bucket-mb` at parameter boundaries.
/// Backward completes the buffer from its end towards its start (the heads and the last layers
/// are declared last and run backward first), and the model says how far it has got after each
/// layer (`ecg_transformer::set_backward_progress`). A bucket whose elements are all complete
/// starts its sum at once, non-blocking, and the sums advance between layers; `finish()` starts
/// what is left and waits. `--bucket-mb 0` keeps one blocking sum of the whole buffer after
/// backward, for comparison.
///
/// Reproducibility: the same seed, world size and bucket size give the same bits (the buckets,
/// and so MPI's choice of reduction algorithm per message, are the same). A different bucket size
/// may sum in another order and change the last bits.

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "communicator.hpp"

namespace ecgssl::distributed {

/// Elements [begin, end) of the flat gradient buffer.
struct gradient_bucket {
  std::size_t begin = 0, end = 0;
  friend bool operator==(const gradient_bucket&, const gradient_bucket&) = default;
};

/// Buckets of about `bucket_bytes` over a buffer made of parameters of `parameter_sizes`
/// elements (in buffer order), cut only between parameters, filled from the buffer's end (the
/// order backward completes it). Each holds at least one parameter, so a parameter larger than
/// `bucket_bytes` is a bucket of its own. Returned in start order: the last elements first.
inline std::vector<gradient_bucket> plan_gradient_buckets(std::span<const std::size_t> parameter_sizes,
                                                          std::size_t element_bytes, double bucket_bytes) {
  if (!(bucket_bytes > 0)) {
    throw config_error(at_field("--bucket-mb"), std::to_string(bucket_bytes / (1024.0 * 1024.0)),
                       "a positive bucket size (0 means one blocking sum, planned by no buckets)");
  }
  std::vector<gradient_bucket> buckets;
  std::size_t end = 0;
  for (const std::size_t n : parameter_sizes) end += n;
  std::size_t at = end;
  std::size_t p = parameter_sizes.size();
  while (p > 0) {
    const std::size_t bucket_end = at;
    double bytes = 0;
    do {
      --p;
      at -= parameter_sizes[p];
      bytes += static_cast<double>(parameter_sizes[p] * element_bytes);
    } while (p > 0 && bytes + static_cast<double>(parameter_sizes[p - 1] * element_bytes) <= bucket_bytes);
    if (bucket_end > at) buckets.push_back({at, bucket_end});
  }
  return buckets;
}

/// One update's sums of the gradient buckets, started as backward completes them.
template <class T>
class bucketed_all_reduce {
 public:
  bucketed_all_reduce(communicator& comm, std::span<T> gradients, const std::vector<gradient_bucket>& buckets)
      : comm_(&comm), gradients_(gradients), buckets_(&buckets) {
    for (const auto& b : buckets) {
      if (b.begin > b.end || b.end > gradients.size()) {
        throw shape_error(at_field("gradient bucket"), std::to_string(b.begin) + ".." + std::to_string(b.end),
                          "inside the " + std::to_string(gradients.size()) + "-element gradient buffer");
      }
    }
  }
  bucketed_all_reduce(const bucketed_all_reduce&) = delete;
  bucketed_all_reduce& operator=(const bucketed_all_reduce&) = delete;

  /// Every gradient at index `final_from` or after it is complete on this rank.
  void gradients_final_from(std::size_t final_from) {
    while (started_ < buckets_->size() && (*buckets_)[started_].begin >= final_from) start_next();
    comm_->progress();
  }

  /// Starts the buckets not started yet and waits for every sum.
  void finish() {
    while (started_ < buckets_->size()) start_next();
    comm_->wait_all();
  }

  [[nodiscard]] std::size_t started() const { return started_; }

 private:
  void start_next() {
    const auto& b = (*buckets_)[started_++];
    comm_->start_all_reduce_sum(gradients_.subspan(b.begin, b.end - b.begin));
  }

  communicator* comm_;
  std::span<T> gradients_;
  const std::vector<gradient_bucket>* buckets_;
  std::size_t started_ = 0;
};

}  // namespace ecgssl::distributed

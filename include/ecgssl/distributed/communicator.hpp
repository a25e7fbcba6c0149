#pragma once
/// \file communicator.hpp
/// What data-parallel training needs from the processes it runs in: a rank and a world size,
/// sums of gradient buffers and counters over every rank, a broadcast of the parameters from rank
/// 0 and a barrier. The pre-trainer (pipeline/pretraining/pretrainer.hpp) talks to this
/// interface only; `single_process` is the default (every call a no-op), and
/// `distributed::mpi_communicator` (distributed/mpi.hpp, a build with MPI) spans the processes
/// `mpirun` or `srun` started.
///
/// Every rank must make the same calls in the same order with buffers of the same length: the
/// collectives match by order, as MPI's do.

#include <cstddef>
#include <span>

namespace ecgssl::distributed {

class communicator {
 public:
  virtual ~communicator() = default;
  [[nodiscard]] virtual int rank() const = 0;
  [[nodiscard]] virtual int size() const = 0;
  /// Rank among the processes of this machine (the GPU a rank takes on a multi-GPU machine).
  [[nodiscard]] virtual int local_rank() const = 0;
  /// Element-wise sum over every rank, in place, on every rank.
  virtual void all_reduce_sum(std::span<float> values) = 0;
  virtual void all_reduce_sum(std::span<double> values) = 0;
  /// Rank `root`'s values on every rank.
  virtual void broadcast(std::span<float> values, int root) = 0;
  virtual void broadcast(std::span<double> values, int root) = 0;
  /// Returns once every rank has called it.
  virtual void barrier() = 0;
  /// Every rank's `value`, in rank order (for checks that all ranks agree).
  virtual void all_gather(double value, std::span<double> out) = 0;

  /// Starts the sum of `values` over every rank; the result is there after `wait_all()`, and
  /// `values` must not be touched until then. A communicator without non-blocking collectives
  /// sums at once (this default).
  virtual void start_all_reduce_sum(std::span<float> values) { all_reduce_sum(values); }
  virtual void start_all_reduce_sum(std::span<double> values) { all_reduce_sum(values); }
  /// Lets started sums advance (MPI moves non-blocking collectives only inside MPI calls).
  virtual void progress() {}
  /// Returns when every started sum is complete.
  virtual void wait_all() {}
};

/// One process: rank 0 of 1, every collective the identity.
class single_process final : public communicator {
 public:
  [[nodiscard]] int rank() const override { return 0; }
  [[nodiscard]] int size() const override { return 1; }
  [[nodiscard]] int local_rank() const override { return 0; }
  void all_reduce_sum(std::span<float>) override {}
  void all_reduce_sum(std::span<double>) override {}
  void broadcast(std::span<float>, int) override {}
  void broadcast(std::span<double>, int) override {}
  void barrier() override {}
  void all_gather(double value, std::span<double> out) override {
    if (!out.empty()) out[0] = value;
  }
};

}  // namespace ecgssl::distributed

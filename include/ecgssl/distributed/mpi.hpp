#pragma once
/// \file mpi.hpp
/// The communicator over MPI (Open MPI, MPICH, Intel MPI: the MPI 3 standard only), for the
/// processes `mpirun -np N` or Slurm's `srun` start. Only in a build that finds <mpi.h> (CMake:
/// ECGSSL_WITH_MPI, which links MPI::MPI_CXX); elsewhere this header declares nothing.
///
/// - `launched_by_mpi()` says whether a launcher started this process (its environment), so a
///   plain `ecgssl pretrain` never initialises MPI and needs no launcher;
/// - `mpi_session` initialises MPI for the process's lifetime (MPI_THREAD_FUNNELED: the batch
///   loader's threads never call MPI) and finalises it;
/// - `mpi_communicator` runs the collectives on MPI_COMM_WORLD with MPI's default error handler,
///   MPI_ERRORS_ARE_FATAL: a failed collective, or a rank that dies, ends every rank (the launcher
///   kills the others and names the rank), so no rank waits forever in an all-reduce.
///
/// Reductions: MPI_Allreduce with MPI_SUM. For two ranks every algorithm computes a + b on both
/// (addition commutes), so runs are bit for bit repeatable; for more ranks the order of the sum
/// follows the algorithm Open MPI picks by message size and rank count, which is fixed for a given
/// world size and build but differs between them (docs/distributed.md names the settings that
/// pin it).

#if __has_include(<mpi.h>)
// The C API only: MPI 2's C++ bindings (deprecated, removed in MPI 3) warn under -Wextra.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "communicator.hpp"

namespace ecgssl::distributed {

/// Whether an MPI launcher (mpirun/mpiexec of Open MPI or MPICH, Slurm's srun with PMI/PMIx)
/// started this process.
[[nodiscard]] inline bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

/// MPI for the lifetime of the object (one per process).
class mpi_session {
 public:
  mpi_session(int* argc, char*** argv) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized != 0) return;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
      throw config_error(at_field("MPI"), "MPI_Init_thread failed", "a working MPI launcher (mpirun -np N ...)");
    }
    owned_ = true;
  }
  mpi_session(const mpi_session&) = delete;
  mpi_session& operator=(const mpi_session&) = delete;
  ~mpi_session() {
    if (owned_) MPI_Finalize();
  }

 private:
  bool owned_ = false;
};

class mpi_communicator final : public communicator {
 public:
  mpi_communicator() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_free(&local);
  }
  [[nodiscard]] int rank() const override { return rank_; }
  [[nodiscard]] int size() const override { return size_; }
  [[nodiscard]] int local_rank() const override { return local_rank_; }
  void all_reduce_sum(std::span<float> values) override { reduce(values.data(), values.size(), MPI_FLOAT); }
  void all_reduce_sum(std::span<double> values) override { reduce(values.data(), values.size(), MPI_DOUBLE); }
  void broadcast(std::span<float> values, int root) override { bcast(values.data(), values.size(), MPI_FLOAT, root); }
  void broadcast(std::span<double> values, int root) override { bcast(values.data(), values.size(), MPI_DOUBLE, root); }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  void start_all_reduce_sum(std::span<float> values) override { start(values.data(), values.size(), MPI_FLOAT); }
  void start_all_reduce_sum(std::span<double> values) override { start(values.data(), values.size(), MPI_DOUBLE); }
  void progress() override {
    if (pending_.empty()) return;
    int done = 0;
    MPI_Testall(static_cast<int>(pending_.size()), pending_.data(), &done, MPI_STATUSES_IGNORE);
    if (done != 0) pending_.clear();
  }
  void wait_all() override {
    if (pending_.empty()) return;
    MPI_Waitall(static_cast<int>(pending_.size()), pending_.data(), MPI_STATUSES_IGNORE);
    pending_.clear();
  }
  void all_gather(double value, std::span<double> out) override {
    if (out.size() != static_cast<std::size_t>(size_)) {
      throw shape_error(at_field("all_gather"), std::to_string(out.size()) + " slots", std::to_string(size_) + " (one per rank)");
    }
    MPI_Allgather(&value, 1, MPI_DOUBLE, out.data(), 1, MPI_DOUBLE, MPI_COMM_WORLD);
  }

 private:
  // MPI counts are int: a buffer beyond 2^31 - 1 elements (8 GiB of floats) goes in pieces.
  static constexpr std::size_t chunk = static_cast<std::size_t>(std::numeric_limits<int>::max());
  template <class T>
  void reduce(T* data, std::size_t n, MPI_Datatype type) {
    for (std::size_t at = 0; at < n; at += chunk) {
      MPI_Allreduce(MPI_IN_PLACE, data + at, static_cast<int>(std::min(chunk, n - at)), type, MPI_SUM, MPI_COMM_WORLD);
    }
  }
  template <class T>
  void start(T* data, std::size_t n, MPI_Datatype type) {
    for (std::size_t at = 0; at < n; at += chunk) {
      MPI_Request request = MPI_REQUEST_NULL;
      MPI_Iallreduce(MPI_IN_PLACE, data + at, static_cast<int>(std::min(chunk, n - at)), type, MPI_SUM, MPI_COMM_WORLD,
                     &request);
      pending_.push_back(request);
    }
  }
  template <class T>
  void bcast(T* data, std::size_t n, MPI_Datatype type, int root) {
    for (std::size_t at = 0; at < n; at += chunk) {
      MPI_Bcast(data + at, static_cast<int>(std::min(chunk, n - at)), type, root, MPI_COMM_WORLD);
    }
  }

  int rank_ = 0, size_ = 1, local_rank_ = 0;
  std::vector<MPI_Request> pending_;  // started sums, in start order
};

}  // namespace ecgssl::distributed

#endif  // __has_include(<mpi.h>)

#pragma once
/// \file world.hpp
/// The processes this `ecgssl` runs in: one, or the ranks an MPI launcher started (a build with
/// ECGSSL_WITH_MPI). main() opens a world_session; the subcommands ask world() for the
/// communicator (the tests, which have no session, get the single process).

#include <memory>

#include <ecgssl/distributed/communicator.hpp>

namespace ecgssl::cli::detail {

/// The communicator of this process: MPI's inside a world_session started by a launcher, else
/// the single process.
distributed::communicator& world();

/// Whether this binary was built with MPI.
bool built_with_mpi();

/// Ends every rank at once (MPI_Abort) after a failure on this one, so that no other rank waits
/// forever in a collective; returns (does nothing) with one process.
void abort_world(int code);

/// Joins the launcher's ranks (MPI_Init) when a launcher started the process, for the lifetime
/// of the object; throws config_error when a launcher started several copies of a binary built
/// without MPI (each would train alone and write the same files).
class world_session {
 public:
  world_session(int* argc, char*** argv);
  world_session(const world_session&) = delete;
  world_session& operator=(const world_session&) = delete;
  ~world_session();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace ecgssl::cli::detail

/// \file world.cpp
/// detail/world.hpp: the only translation unit of the command that sees <mpi.h>, so MPI's
/// compile flags reach neither the other subcommands nor the CUDA unit.

#include "detail/world.hpp"

#include <cstdlib>
#include <string>

#include <ecgssl/core/error.hpp>

#if defined(ECGSSL_CLI_WITH_MPI)
#include <ecgssl/distributed/mpi.hpp>
#endif

namespace ecgssl::cli::detail {

namespace {
distributed::single_process alone;
distributed::communicator* current = &alone;

#if !defined(ECGSSL_CLI_WITH_MPI)
// The world size a launcher announces to each process it starts (Open MPI, PMI), 1 if none.
long announced_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char* value = std::getenv(name)) return std::strtol(value, nullptr, 10);
  }
  return 1;
}
#endif
}  // namespace

distributed::communicator& world() { return *current; }

bool built_with_mpi() {
#if defined(ECGSSL_CLI_WITH_MPI)
  return true;
#else
  return false;
#endif
}

void abort_world(int code) {
#if defined(ECGSSL_CLI_WITH_MPI)
  if (current->size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
  (void)code;
#endif
}

struct world_session::impl {
#if defined(ECGSSL_CLI_WITH_MPI)
  std::unique_ptr<distributed::mpi_session> session;
  std::unique_ptr<distributed::mpi_communicator> communicator;
#endif
};

world_session::world_session(int* argc, char*** argv) : impl_(std::make_unique<impl>()) {
#if defined(ECGSSL_CLI_WITH_MPI)
  if (distributed::launched_by_mpi()) {
    impl_->session = std::make_unique<distributed::mpi_session>(argc, argv);
    impl_->communicator = std::make_unique<distributed::mpi_communicator>();
    current = impl_->communicator.get();
  }
#else
  (void)argc;
  (void)argv;
  if (announced_world_size() > 1) {
    throw config_error(at_field("MPI"), "started as " + std::to_string(announced_world_size()) +
                                            " processes by a launcher, but this ecgssl was built without MPI",
                       "a build with -DECGSSL_WITH_MPI=ON (the app preset), or one process without mpirun/srun");
  }
#endif
}

world_session::~world_session() {
  current = &alone;
}

}  // namespace ecgssl::cli::detail

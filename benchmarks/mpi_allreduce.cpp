// The all-reduce of a gradient buffer under MPI: `mpirun -np N ecgssl_mpi_allreduce [MB] [REPEATS]`
// times distributed::mpi_communicator::all_reduce_sum on a float buffer of MB megabytes (default
// 363.5: the base encoder's 90.9 M parameters) and prints the median, minimum and the bus
// bandwidth (2 (N-1)/N x bytes / time, the figure NCCL's tests report). Run by
// benchmarks/distributed_throughput.py; never part of CI.
#include <ecgssl/distributed/mpi.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  ecgssl::distributed::mpi_session session(&argc, &argv);
  ecgssl::distributed::mpi_communicator comm;
  const double megabytes = argc > 1 ? std::atof(argv[1]) : 363.5;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  std::vector<float> buffer(static_cast<std::size_t>(megabytes * 1e6 / sizeof(float)), 1.0f);
  comm.all_reduce_sum(buffer);  // warm-up: first touch, connection set-up
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    comm.barrier();
    const auto start = std::chrono::steady_clock::now();
    comm.all_reduce_sum(buffer);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  if (comm.rank() == 0) {
    const double n = comm.size(), bytes = static_cast<double>(buffer.size() * sizeof(float));
    const double median = seconds[seconds.size() / 2];
    std::printf("{\"ranks\": %d, \"megabytes\": %.1f, \"median_s\": %.4f, \"min_s\": %.4f, \"bus_gb_per_s\": %.2f}\n",
                comm.size(), bytes / 1e6, median, seconds.front(), 2.0 * (n - 1) / n * bytes / median / 1e9);
  }
  return 0;
}

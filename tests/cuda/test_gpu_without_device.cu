// The CUDA backend's checks that need NO device: errors when the runtime finds none, and
// configuration errors caught before any CUDA call. A small program of its own
// (ecgssl_tests_gpu_without_device), built wherever the CUDA backend is, device or not.
#include <doctest/doctest.h>

#include <string>

#include <ecgssl/cuda/cuda_context.cuh>
#include <ecgssl/cuda/device_buffer.cuh>
#include <ecgssl/cuda/device_parameters.cuh>

TEST_SUITE("without_device") {
  TEST_CASE("allocating without a CUDA device throws cuda_error with the call site") {
    try {
      ecgssl::device_buffer<float> buffer(16);
      FAIL("allocation succeeded without a device");
    } catch (const ecgssl::cuda_error& e) {
      CHECK(e.kind() == "CUDA");
      CHECK(e.where().file.find("device_buffer.cuh") != std::string::npos);
      CHECK(e.where().line.has_value());
      CHECK(e.where().field.find("cudaMalloc") != std::string::npos);
      CHECK(std::string(e.what()).find("expected cudaSuccess") != std::string::npos);
    }
  }

  TEST_CASE(
      "mirroring an unallocated parameter_store is a config_error, checked before any CUDA call") {
    ecgssl::parameter_store<double> store;
    store.add("w", {4});
    CHECK_THROWS_AS(ecgssl::device_parameters<double>{store}, ecgssl::config_error);
  }

  TEST_CASE("creating a cuBLAS handle without a device throws cuda_error") {
    CHECK_THROWS_AS(ecgssl::cuda_context::current().blas(), ecgssl::cuda_error);
  }

}  // TEST_SUITE without_device

// Entry point of the GPU test program. Without a CUDA device the parity tests cannot run: the
// program says so and returns 77, which ctest reports as SKIPPED (SKIP_RETURN_CODE). Run with
// --without-device it instead runs the checks that need NO device (error reporting when the
// runtime finds none), and skips when a device is present.
#define DOCTEST_CONFIG_IMPLEMENT
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  bool without_device = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--without-device") == 0) {
      without_device = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  (void)cudaGetLastError();
  const bool have_device = status == cudaSuccess && count > 0;
  if (!without_device && !have_device) {
    std::printf(
        "SKIPPED: no CUDA device (cudaGetDeviceCount: %s, %d devices); the CUDA-vs-host "
        "parity tests need a GPU\n",
        cudaGetErrorName(status), count);
    return 77;
  }
  if (without_device && have_device) {
    std::printf(
        "SKIPPED: %d CUDA device(s) present; the no-device error checks need a machine "
        "without one\n",
        count);
    return 77;
  }
  doctest::Context context;
  context.applyCommandLine(static_cast<int>(args.size()), args.data());
  context.addFilter("test-suite", without_device ? "without_device" : "with_device");
  return context.run();
}

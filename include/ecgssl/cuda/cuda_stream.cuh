#pragma once
/// \file cuda_stream.cuh
/// Owning RAII wrapper of a cudaStream_t (non-blocking with respect to the legacy default
/// stream). Work of the CUDA backend runs on the stream of the thread's cuda_context.

#include <cuda_runtime.h>

#include <utility>

#include "cuda_check.cuh"

namespace ecgssl {

/// A CUDA stream created on construction and destroyed with the object (movable, not copyable).
class cuda_stream {
 public:
  cuda_stream() { ECGSSL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~cuda_stream() {
    if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);  // destructors must not throw
  }
  cuda_stream(const cuda_stream&) = delete;
  cuda_stream& operator=(const cuda_stream&) = delete;
  cuda_stream(cuda_stream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  cuda_stream& operator=(cuda_stream&& other) noexcept {
    if (this != &other) {
      if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
      stream_ = std::exchange(other.stream_, nullptr);
    }
    return *this;
  }

  [[nodiscard]] cudaStream_t get() const noexcept { return stream_; }
  /// Blocks the host until every operation queued on the stream has finished; reports
  /// asynchronous kernel errors as cuda_error.
  void synchronize() const { ECGSSL_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace ecgssl

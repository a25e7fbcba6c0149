#pragma once
/// \file cuda_context.cuh
/// Per-thread state of the CUDA backend: the stream its kernels and cuBLAS calls are queued on
/// and a cuBLAS handle bound to that stream (created on first use). The implementation<Op, cuda>
/// specialisations keep the host twins' signatures, so they read the stream from here instead
/// of taking it as an argument.

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "cuda_check.cuh"

namespace ecgssl {

/// The calling thread's CUDA stream and cuBLAS handle. All calls are asynchronous with respect
/// to the host: synchronize() (or a blocking copy) before reading results on the host.
class cuda_context {
 public:
  /// The context of the calling thread.
  static cuda_context& current() {
    thread_local cuda_context context;
    return context;
  }

  cuda_context(const cuda_context&) = delete;
  cuda_context& operator=(const cuda_context&) = delete;
  ~cuda_context() {
    if (blas_ != nullptr) (void)cublasDestroy(blas_);
  }

  /// The stream work is queued on (nullptr: the legacy default stream).
  [[nodiscard]] cudaStream_t stream() const noexcept { return stream_; }

  /// Queues later work on `stream` (which the caller keeps alive, e.g. a cuda_stream).
  void set_stream(cudaStream_t stream) {
    stream_ = stream;
    if (blas_ != nullptr) ECGSSL_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
  }

  /// The cuBLAS handle, bound to stream(). Created lazily so that merely including the backend
  /// needs no device. Math mode stays CUBLAS_DEFAULT_MATH: no TF32 for float GEMMs, so float
  /// results stay comparable with the host (Eigen) twin.
  cublasHandle_t blas() {
    if (blas_ == nullptr) {
      ECGSSL_CUBLAS_CHECK(cublasCreate(&blas_));
      ECGSSL_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
      ECGSSL_CUBLAS_CHECK(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));
    }
    return blas_;
  }

  /// Blocks until the stream's queued work is done; reports asynchronous errors.
  void synchronize() const { ECGSSL_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cuda_context() = default;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
};

}  // namespace ecgssl

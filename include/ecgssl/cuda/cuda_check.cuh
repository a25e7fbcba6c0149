#pragma once
/// \file cuda_check.cuh
/// Turns failed CUDA runtime and cuBLAS calls into ecgssl::cuda_error naming the call, the
/// status, and the file and line of the call site: `ECGSSL_CUDA_CHECK(cudaMalloc(&p, bytes));`.
/// Kernel launches are checked with `ECGSSL_CUDA_CHECK(cudaGetLastError())` right after them.

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "../core/error.hpp"

namespace ecgssl::detail {

/// Location of a failed call: the source file and line of the macro use, the call as the field.
inline error_location cuda_call_site(const char* file, int line, const char* call) {
  error_location where;
  where.file = file;
  where.line = line;
  where.field = call;
  return where;
}

inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  // Clear a sticky-free error so the next call does not report this one again.
  (void)cudaGetLastError();
  throw cuda_error(cuda_call_site(file, line, call),
                   std::string(cudaGetErrorName(status)) + " (" + cudaGetErrorString(status) + ")",
                   "cudaSuccess");
}

inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw cuda_error(
      cuda_call_site(file, line, call),
      std::string(cublasGetStatusName(status)) + " (" + cublasGetStatusString(status) + ")",
      "CUBLAS_STATUS_SUCCESS");
}

}  // namespace ecgssl::detail

/// Throws ecgssl::cuda_error when a CUDA runtime call does not return cudaSuccess.
#define ECGSSL_CUDA_CHECK(call) ::ecgssl::detail::check_cuda((call), #call, __FILE__, __LINE__)
/// Throws ecgssl::cuda_error when a cuBLAS call does not return CUBLAS_STATUS_SUCCESS.
#define ECGSSL_CUBLAS_CHECK(call) ::ecgssl::detail::check_cublas((call), #call, __FILE__, __LINE__)
/// Checks the launch of the kernel just issued (bad configuration, no device...).
#define ECGSSL_CUDA_CHECK_LAUNCH() \
  ::ecgssl::detail::check_cuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)

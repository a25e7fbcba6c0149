#pragma once
/// \file launch.cuh
/// Launch geometry and small device helpers shared by the CUDA kernels.

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../cuda_check.cuh"
#include "../cuda_context.cuh"
#include "../device_buffer.cuh"
#include "gemm_plan.cuh"

/// for (i over [0, n)) spread over the whole grid; works for any grid size.
#define ECGSSL_GRID_STRIDE_LOOP(i, n)                                               \
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < (n); \
       i += std::size_t(blockDim.x) * gridDim.x)

namespace ecgssl::cuda_detail {

inline constexpr int block_size = 256;

/// Blocks for a grid-stride loop over n elements (capped: the loop covers the rest).
inline unsigned grid_for(std::size_t n) {
  const std::size_t blocks = (n + block_size - 1) / block_size;
  return static_cast<unsigned>(std::clamp<std::size_t>(blocks, 1, 65535u * 8u));
}

inline cudaStream_t stream() { return cuda_context::current().stream(); }

/// erf overloads usable in device code for float and double.
__device__ inline float erf_of(float x) { return erff(x); }
__device__ inline double erf_of(double x) { return erf(x); }
__device__ inline float exp_of(float x) { return expf(x); }
__device__ inline double exp_of(double x) { return exp(x); }

/// Column-major GEMM dispatch on the scalar type (cuBLAS works in column-major; the callers
/// express row-major products as transposed column-major ones).
inline void gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                 float alpha, const float* a, int lda, const float* b, int ldb, float beta,
                 float* c, int ldc) {
  ECGSSL_CUBLAS_CHECK(cublasSgemm(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc));
}
inline void gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                 double alpha, const double* a, int lda, const double* b, int ldb, double beta,
                 double* c, int ldc) {
  ECGSSL_CUBLAS_CHECK(cublasDgemm(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc));
}
inline void gemm_strided_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                 int m, int n, int k, float alpha, const float* a, int lda,
                                 long long sa, const float* b, int ldb, long long sb, float beta,
                                 float* c, int ldc, long long sc, int batch) {
  ECGSSL_CUBLAS_CHECK(cublasSgemmStridedBatched(h, ta, tb, m, n, k, &alpha, a, lda, sa, b, ldb, sb,
                                                &beta, c, ldc, sc, batch));
}
inline void gemm_strided_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                 int m, int n, int k, double alpha, const double* a, int lda,
                                 long long sa, const double* b, int ldb, long long sb, double beta,
                                 double* c, int ldc, long long sc, int batch) {
  ECGSSL_CUBLAS_CHECK(cublasDgemmStridedBatched(h, ta, tb, m, n, k, &alpha, a, lda, sa, b, ldb, sb,
                                                &beta, c, ldc, sc, batch));
}

inline void gemm_pointer_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                 int m, int n, int k, float alpha, const float* const* a, int lda,
                                 const float* const* b, int ldb, float beta, float* const* c,
                                 int ldc, int batch) {
  ECGSSL_CUBLAS_CHECK(
      cublasSgemmBatched(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc, batch));
}
inline void gemm_pointer_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                 int m, int n, int k, double alpha, const double* const* a, int lda,
                                 const double* const* b, int ldb, double beta, double* const* c,
                                 int ldc, int batch) {
  ECGSSL_CUBLAS_CHECK(
      cublasDgemmBatched(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc, batch));
}

/// cuBLAS takes int extents; larger problems are a configuration the backend does not support.
inline int as_blas_int(std::int64_t v, const char* what) {
  if (v < 0 || v > 2147483647) {
    throw config_error(at_field(what), std::to_string(v), "an extent below 2^31 (cuBLAS int)");
  }
  return static_cast<int>(v);
}

/// Issues a one-level gemm_plan on the context's cuBLAS handle (strided-batched when batch > 1).
/// Two-level plans go through a gemm_pointer_pass (run_job below).
template <class T>
void run(const gemm_plan& p, T alpha, const T* a, const T* b, T beta, T* c) {
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  ECGSSL_ASSERT(p.inner_batch == 1, "a two-level gemm_plan needs pointer arrays (run_job)");
  cublasHandle_t h = cuda_context::current().blas();
  const cublasOperation_t ta = p.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = p.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = as_blas_int(p.m, "GEMM m"), n = as_blas_int(p.n, "GEMM n"),
            k = as_blas_int(p.k, "GEMM k");
  const int lda = as_blas_int(p.lda, "GEMM lda"), ldb = as_blas_int(p.ldb, "GEMM ldb");
  const int ldc = as_blas_int(p.ldc, "GEMM ldc");
  if (p.batch == 1) {
    gemm(h, ta, tb, m, n, k, alpha, a + p.offset_a, lda, b + p.offset_b, ldb, beta, c + p.offset_c,
         ldc);
  } else {
    gemm_strided_batched(h, ta, tb, m, n, k, alpha, a + p.offset_a, lda, p.stride_a, b + p.offset_b,
                         ldb, p.stride_b, beta, c + p.offset_c, ldc, p.stride_c,
                         as_blas_int(p.batch, "GEMM batch"));
  }
}

// Thread e writes entry e of the pass's pointer arrays.
template <class T>
__global__ void fill_gemm_pointers(gemm_pointer_pass<T> pass, T** out) {
  ECGSSL_GRID_STRIDE_LOOP(e, static_cast<std::size_t>(pass.entries)) {
    out[e] = gemm_pointer_entry(pass, static_cast<std::int64_t>(e));
  }
}

/// Device pointer arrays of a gemm_pointer_pass, refilled (one small kernel on the context's
/// stream) only when the pass, i.e. a plan or a base pointer, or the stream differs from the
/// last fill: a layer whose buffers stay put fills them once. Reuse only from one stream at a
/// time, as every workspace.
template <class T>
class gemm_pointer_arrays {
 public:
  /// The arrays of `pass` on the device (valid for work queued after this call).
  T* const* prepare(const gemm_pointer_pass<T>& pass) {
    const cudaStream_t s = stream();
    if (!(filled_ && pass == last_ && s == last_stream_)) {
      buffer_.resize(static_cast<std::size_t>(pass.entries));
      if (pass.entries > 0) {
        fill_gemm_pointers<<<grid_for(static_cast<std::size_t>(pass.entries)), block_size, 0, s>>>(
            pass, buffer_.data());
        ECGSSL_CUDA_CHECK_LAUNCH();
      }
      last_ = pass, last_stream_ = s, filled_ = true;
    }
    return buffer_.data();
  }

 private:
  device_buffer<T*> buffer_;
  gemm_pointer_pass<T> last_;
  cudaStream_t last_stream_ = nullptr;
  bool filled_ = false;
};

/// Issues job j of a pass whose arrays `arrays` came from gemm_pointer_arrays::prepare(pass): one
/// pointer-array batched cuBLAS call over all batch entries, whatever their strides.
template <class T>
void run_job(const gemm_pointer_pass<T>& pass, int j, T* const* arrays, T alpha, T beta) {
  const gemm_plan& p = pass.jobs[j].plan;
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  const cublasOperation_t ta = p.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = p.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  T* const* a = arrays + pass.jobs[j].first;
  gemm_pointer_batched(cuda_context::current().blas(), ta, tb, as_blas_int(p.m, "GEMM m"),
                       as_blas_int(p.n, "GEMM n"), as_blas_int(p.k, "GEMM k"), alpha, a,
                       as_blas_int(p.lda, "GEMM lda"), a + p.batch, as_blas_int(p.ldb, "GEMM ldb"),
                       beta, a + 2 * p.batch, as_blas_int(p.ldc, "GEMM ldc"),
                       as_blas_int(p.batch, "GEMM batch"));
}

}  // namespace ecgssl::cuda_detail

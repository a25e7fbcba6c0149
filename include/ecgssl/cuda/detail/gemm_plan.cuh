#pragma once
/// \file gemm_plan.cuh
/// The cuBLAS calls of the CUDA backend as data: each op's GEMMs are described by a gemm_plan
/// (column-major, batched with one or two levels of strides, operands as offsets from base
/// pointers) built by the functions below, which the device code hands to cuBLAS and the host
/// tests execute with run_on_host (tests/cuda/test_gemm_plan.cpp), so the row-major <->
/// column-major mapping is tested on machines without a GPU. Two-level plans go to cuBLAS as
/// pointer-array batched calls; their pointer arrays are a gemm_pointer_pass, filled entry by
/// entry with gemm_pointer_entry (on the device by one kernel, on the host by the tests). No
/// CUDA dependency here.
///
/// Row-major X[r, c] with row stride ld is, read column-major, X^T with leading dimension ld;
/// so every row-major product Y = A B is issued as the column-major Y^T = B^T A^T.

#include <cstddef>
#include <cstdint>

#include "../../core/config.hpp"

namespace ecgssl::cuda_detail {

/// C_i = alpha op(A_i) op(B_i) + beta C_i for i < batch, column-major, op(A) is m x k, op(B) is
/// k x n, C is m x n. One level (inner_batch == 1): X_i = X + offset + i * stride. Two levels
/// (inner_batch > 1, batch a multiple of it): entry i = o * inner_batch + j is
/// X_i = X + offset + o * stride + j * inner_stride, e.g. (sample, head) pairs of a [B, T, D]
/// tensor whose heads are column blocks: no single stride reaches them all.
struct gemm_plan {
  bool transpose_a = false;
  bool transpose_b = false;
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t lda = 1, ldb = 1, ldc = 1;
  std::int64_t offset_a = 0, offset_b = 0, offset_c = 0;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  std::int64_t batch = 1;
  std::int64_t inner_batch = 1;
  std::int64_t inner_stride_a = 0, inner_stride_b = 0, inner_stride_c = 0;
  bool operator==(const gemm_plan&) const = default;
};

/// Offset of batch entry i of an operand with (offset, stride, inner_stride) (see gemm_plan).
ECGSSL_HOST_DEVICE inline std::int64_t batch_entry_offset(std::int64_t offset, std::int64_t stride,
                                                          std::int64_t inner_stride,
                                                          std::int64_t inner_batch,
                                                          std::int64_t i) {
  return offset + (i / inner_batch) * stride + (i % inner_batch) * inner_stride;
}

/// Naive execution of batch entry i given its operands (column-major, accumulates in double).
template <class T>
void run_entry_on_host(const gemm_plan& p, T alpha, const T* ai, const T* bi, T beta, T* ci) {
  for (std::int64_t col = 0; col < p.n; ++col) {
    for (std::int64_t row = 0; row < p.m; ++row) {
      double sum = 0;
      for (std::int64_t l = 0; l < p.k; ++l) {
        const T av = p.transpose_a ? ai[l + row * p.lda] : ai[row + l * p.lda];
        const T bv = p.transpose_b ? bi[col + l * p.ldb] : bi[l + col * p.ldb];
        sum += static_cast<double>(av) * static_cast<double>(bv);
      }
      T& out = ci[row + col * p.ldc];
      out = static_cast<T>(static_cast<double>(alpha) * sum +
                           (beta == T(0) ? 0.0 : static_cast<double>(beta) * out));
    }
  }
}

/// Naive execution of a plan from its base pointers (the tests' stand-in for cuBLAS).
template <class T>
void run_on_host(const gemm_plan& p, T alpha, const T* a, const T* b, T beta, T* c) {
  for (std::int64_t i = 0; i < p.batch; ++i) {
    run_entry_on_host(
        p, alpha,
        a + batch_entry_offset(p.offset_a, p.stride_a, p.inner_stride_a, p.inner_batch, i),
        b + batch_entry_offset(p.offset_b, p.stride_b, p.inner_stride_b, p.inner_batch, i), beta,
        c + batch_entry_offset(p.offset_c, p.stride_c, p.inner_stride_c, p.inner_batch, i));
  }
}

/// Naive execution of a plan from pointer arrays (what cuBLAS's pointer-array batched GEMM
/// reads): entry i multiplies a[i] and b[i] into c[i]; the plan's offsets are not used.
template <class T>
void run_pointers_on_host(const gemm_plan& p, T alpha, T* const* a, T* const* b, T beta,
                          T* const* c) {
  for (std::int64_t i = 0; i < p.batch; ++i) run_entry_on_host<T>(p, alpha, a[i], b[i], beta, c[i]);
}

/// The pointer arrays of up to `capacity` plans issued together (one fill kernel, cached while
/// nothing changes): job j's entries start at jobs[j].first of the pass's array and are its
/// batch A pointers, then its batch B pointers, then its batch C pointers.
template <class T>
struct gemm_pointer_pass {
  struct job {
    gemm_plan plan;
    T* a = nullptr;  // operands as T*: one array type for cuBLAS (A and B are only read)
    T* b = nullptr;
    T* c = nullptr;
    std::int64_t first = 0;
    bool operator==(const job&) const = default;
  };
  static constexpr int capacity = 4;
  job jobs[capacity] = {};
  int count = 0;
  std::int64_t entries = 0;

  /// Appends a plan; returns its index. The caller keeps count <= capacity.
  int add(const gemm_plan& p, const T* a, const T* b, T* c) {
    job& j = jobs[count];
    j.plan = p, j.a = const_cast<T*>(a), j.b = const_cast<T*>(b), j.c = c, j.first = entries;
    entries += 3 * p.batch;
    return count++;
  }
  bool operator==(const gemm_pointer_pass&) const = default;
};

/// Entry e < pass.entries of the pass's pointer array (the fill kernel's thread e).
template <class T>
ECGSSL_HOST_DEVICE T* gemm_pointer_entry(const gemm_pointer_pass<T>& pass, std::int64_t e) {
  int j = 0;
  while (j + 1 < pass.count && e >= pass.jobs[j + 1].first) ++j;
  const auto& job = pass.jobs[j];
  const gemm_plan& p = job.plan;
  const std::int64_t local = e - job.first, operand = local / p.batch, i = local % p.batch;
  if (operand == 0) {
    return job.a + batch_entry_offset(p.offset_a, p.stride_a, p.inner_stride_a, p.inner_batch, i);
  }
  if (operand == 1) {
    return job.b + batch_entry_offset(p.offset_b, p.stride_b, p.inner_stride_b, p.inner_batch, i);
  }
  return job.c + batch_entry_offset(p.offset_c, p.stride_c, p.inner_stride_c, p.inner_batch, i);
}

// ---- linear: x [rows, in], w [out, in], y/dy [rows, out] -------------------------------------

/// y = x w^T  as  Y^T[out, rows] = W[out, in] X^T[in, rows]. A = w, B = x, C = y.
inline gemm_plan linear_forward_plan(std::int64_t rows, std::int64_t in, std::int64_t out) {
  gemm_plan p;
  p.transpose_a = true;
  p.m = out, p.n = rows, p.k = in;
  p.lda = in, p.ldb = in, p.ldc = out;
  return p;
}
/// dx += dy w  as  dX^T[in, rows] += W^T[in, out] dY^T[out, rows]. A = w, B = dy, C = dx.
inline gemm_plan linear_input_grad_plan(std::int64_t rows, std::int64_t in, std::int64_t out) {
  gemm_plan p;
  p.m = in, p.n = rows, p.k = out;
  p.lda = in, p.ldb = out, p.ldc = in;
  return p;
}
/// dw += dy^T x  as  dW^T[in, out] += X^T[in, rows] dY[rows, out]. A = x, B = dy, C = dw.
inline gemm_plan linear_weight_grad_plan(std::int64_t rows, std::int64_t in, std::int64_t out) {
  gemm_plan p;
  p.transpose_b = true;
  p.m = in, p.n = out, p.k = rows;
  p.lda = in, p.ldb = out, p.ldc = in;
  return p;
}

// ---- conv1d: cols [chunk, Cin*K, T'] (group g = rows g*patch ..), w [Cout, Cin_g, K],
//      y/dy [B, Cout, T'] -----------------------------------------------------------------------

/// Group g of samples b0 .. b0+n-1: Y_bg^T[T', cout_g] = cols_bg^T[T', patch] W_g^T[patch, cout_g].
/// A = cols, B = w, C = y.
inline gemm_plan conv1d_forward_plan(std::int64_t in_channels, std::int64_t out_channels,
                                     std::int64_t groups, std::int64_t kernel,
                                     std::int64_t out_length, std::int64_t group, std::int64_t b0,
                                     std::int64_t n) {
  const std::int64_t cout_g = out_channels / groups, patch = in_channels / groups * kernel;
  gemm_plan p;
  p.m = out_length, p.n = cout_g, p.k = patch;
  p.lda = out_length, p.ldb = patch, p.ldc = out_length;
  p.offset_a = group * patch * out_length;
  p.stride_a = in_channels * kernel * out_length;
  p.offset_b = group * cout_g * patch;
  p.offset_c = (b0 * out_channels + group * cout_g) * out_length;
  p.stride_c = out_channels * out_length;
  p.batch = n;
  return p;
}
/// dcols_bg^T[T', patch] = dY_bg^T[T', cout_g] W_g[cout_g, patch]. A = dy, B = w, C = cols.
inline gemm_plan conv1d_cols_grad_plan(std::int64_t in_channels, std::int64_t out_channels,
                                       std::int64_t groups, std::int64_t kernel,
                                       std::int64_t out_length, std::int64_t group, std::int64_t b0,
                                       std::int64_t n) {
  const std::int64_t cout_g = out_channels / groups, patch = in_channels / groups * kernel;
  gemm_plan p;
  p.transpose_b = true;
  p.m = out_length, p.n = patch, p.k = cout_g;
  p.lda = out_length, p.ldb = patch, p.ldc = out_length;
  p.offset_a = (b0 * out_channels + group * cout_g) * out_length;
  p.stride_a = out_channels * out_length;
  p.offset_b = group * cout_g * patch;
  p.offset_c = group * patch * out_length;
  p.stride_c = in_channels * kernel * out_length;
  p.batch = n;
  return p;
}
/// Sample b (index b_local in the cols chunk), all groups batched:
/// dW_g^T[patch, cout_g] += cols_bg[patch, T'] dY_bg^T[T', cout_g]. A = cols, B = dy, C = dw.
inline gemm_plan conv1d_weight_grad_plan(std::int64_t in_channels, std::int64_t out_channels,
                                         std::int64_t groups, std::int64_t kernel,
                                         std::int64_t out_length, std::int64_t b,
                                         std::int64_t b_local) {
  const std::int64_t cout_g = out_channels / groups, patch = in_channels / groups * kernel;
  gemm_plan p;
  p.transpose_a = true;
  p.m = patch, p.n = cout_g, p.k = out_length;
  p.lda = out_length, p.ldb = out_length, p.ldc = patch;
  p.offset_a = b_local * in_channels * kernel * out_length;
  p.stride_a = patch * out_length;
  p.offset_b = b * out_channels * out_length;
  p.stride_b = cout_g * out_length;
  p.stride_c = cout_g * patch;
  p.batch = groups;
  return p;
}

// ---- attention core: q, k, v, ctx [B, T, D] (head h = columns h*dh ..), probs [B, H, T, T] ----
// Every plan covers all B*H (sample, head) pairs, entry i = b*H + h: two levels, sample stride
// T*D and head stride dh in q/k/v/ctx, sample stride H*T*T and head stride T*T in probs.

/// S = Q_h K_h^T (scaled by alpha)  as  S^T[T, T] = K_h Q_h^T. A = k, B = q, C = probs.
inline gemm_plan attention_scores_plan(std::int64_t batch, std::int64_t time, std::int64_t dim,
                                       std::int64_t heads) {
  const std::int64_t dh = dim / heads;
  gemm_plan p;
  p.batch = batch * heads;
  p.inner_batch = heads;
  p.transpose_a = true;
  p.m = time, p.n = time, p.k = dh;
  p.lda = dim, p.ldb = dim, p.ldc = time;
  p.stride_a = p.stride_b = time * dim;
  p.inner_stride_a = p.inner_stride_b = dh;
  p.stride_c = heads * time * time;
  p.inner_stride_c = time * time;
  return p;
}
/// C_h = W V_h  as  C_h^T[dh, T] = V_h^T W^T. A = v, B = weights (probs layout), C = ctx.
inline gemm_plan attention_context_plan(std::int64_t batch, std::int64_t time, std::int64_t dim,
                                        std::int64_t heads) {
  const std::int64_t dh = dim / heads;
  gemm_plan p;
  p.batch = batch * heads;
  p.inner_batch = heads;
  p.m = dh, p.n = time, p.k = time;
  p.lda = dim, p.ldb = time, p.ldc = dim;
  p.stride_a = p.stride_c = time * dim;
  p.inner_stride_a = p.inner_stride_c = dh;
  p.stride_b = heads * time * time;
  p.inner_stride_b = time * time;
  return p;
}
/// dW = dC_h V_h^T  as  dW^T[T, T] = V_h dC_h^T. A = v, B = dctx, C = grad (probs layout).
inline gemm_plan attention_weights_grad_plan(std::int64_t batch, std::int64_t time,
                                             std::int64_t dim, std::int64_t heads) {
  return attention_scores_plan(batch, time, dim, heads);  // same shapes and strides
}
/// dV_h += W^T dC_h  as  dV_h^T[dh, T] += dC_h^T W. A = dctx, B = weights, C = dv.
inline gemm_plan attention_value_grad_plan(std::int64_t batch, std::int64_t time, std::int64_t dim,
                                           std::int64_t heads) {
  gemm_plan p = attention_context_plan(batch, time, dim, heads);
  p.transpose_b = true;
  return p;
}
/// dQ_h += dS K_h  as  dQ_h^T[dh, T] += K_h^T dS^T. A = k, B = grad, C = dq.
inline gemm_plan attention_query_grad_plan(std::int64_t batch, std::int64_t time, std::int64_t dim,
                                           std::int64_t heads) {
  return attention_context_plan(batch, time, dim, heads);
}
/// dK_h += dS^T Q_h  as  dK_h^T[dh, T] += Q_h^T dS. A = q, B = grad, C = dk.
inline gemm_plan attention_key_grad_plan(std::int64_t batch, std::int64_t time, std::int64_t dim,
                                         std::int64_t heads) {
  gemm_plan p = attention_context_plan(batch, time, dim, heads);
  p.transpose_b = true;
  return p;
}

/// The forward pass's two GEMMs: job 0 scores (k, q -> probs), job 1 context (v, weights -> ctx).
template <class T>
gemm_pointer_pass<T> attention_forward_pass(std::int64_t batch, std::int64_t time, std::int64_t dim,
                                            std::int64_t heads, const T* q, const T* k, const T* v,
                                            const T* weights, T* probs, T* ctx) {
  gemm_pointer_pass<T> pass;
  pass.add(attention_scores_plan(batch, time, dim, heads), k, q, probs);
  pass.add(attention_context_plan(batch, time, dim, heads), v, weights, ctx);
  return pass;
}
/// The backward pass's four GEMMs: job 0 dW (v, dctx -> grad), job 1 dV (dctx, weights -> dv),
/// then, after the softmax backward turned grad into dS, job 2 dQ (k, grad -> dq) and job 3 dK
/// (q, grad -> dk).
template <class T>
gemm_pointer_pass<T> attention_backward_pass(std::int64_t batch, std::int64_t time,
                                             std::int64_t dim, std::int64_t heads, const T* q,
                                             const T* k, const T* v, const T* weights,
                                             const T* dctx, T* grad, T* dq, T* dk, T* dv) {
  gemm_pointer_pass<T> pass;
  pass.add(attention_weights_grad_plan(batch, time, dim, heads), v, dctx, grad);
  pass.add(attention_value_grad_plan(batch, time, dim, heads), dctx, weights, dv);
  pass.add(attention_query_grad_plan(batch, time, dim, heads), k, grad, dq);
  pass.add(attention_key_grad_plan(batch, time, dim, heads), q, grad, dk);
  return pass;
}

}  // namespace ecgssl::cuda_detail

// The CUDA kernels' reductions and row normalisations replayed on the host, shared by the host
// replays of the cuda/detail/*_math.cuh headers (ecgssl_tests_thrust_cpp): `lanes` per-lane
// partials combined by the same fixed tree as cmsc::block_sum / block_max, and the
// normalize_rows(_backward)_kernel of cuda/wav2vec2_contrastive.cuh row by row. Host C++ only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include <ecgssl/cuda/detail/cmsc_math.cuh>
#include <ecgssl/cuda/detail/wav2vec2_math.cuh>

namespace gpu_test::replay {

namespace cm = ecgssl::cuda_detail::cmsc;

/// The kernels' block sum: lanes partials, then p[t] += p[t + stride] for stride = lanes/2, ..., 1.
template <class A>
A tree_sum(std::vector<A> p) {
  for (unsigned stride = cm::lanes / 2; stride > 0; stride /= 2) {
    for (unsigned t = 0; t < stride; ++t) p[t] += p[t + stride];
  }
  return p[0];
}
/// The kernels' block max, same tree.
template <class A>
A tree_max(std::vector<A> p) {
  for (unsigned stride = cm::lanes / 2; stride > 0; stride /= 2) {
    for (unsigned t = 0; t < stride; ++t) p[t] = std::max(p[t], p[t + stride]);
  }
  return p[0];
}

/// w2v::normalize_rows_kernel: hat = x / max(‖x‖, eps) per row, norms = ‖x‖.
template <class T>
void normalize_rows(const T* x, std::size_t rows, std::size_t dim, T eps, std::vector<T>& hat, std::vector<T>& norms) {
  hat.assign(rows * dim, T(0));
  norms.assign(rows, T(0));
  for (std::size_t r = 0; r < rows; ++r) {
    std::vector<cm::acc_t<T>> ps(cm::lanes);
    for (unsigned l = 0; l < cm::lanes; ++l) ps[l] = cm::lane_sum_of_squares(x + r * dim, dim, l);
    norms[r] = cm::norm_from<T>(tree_sum(ps));
    const T inv = cm::inverse_norm(norms[r], eps);
    for (std::size_t c = 0; c < dim; ++c) hat[r * dim + c] = x[r * dim + c] * inv;
  }
}

/// w2v::normalize_rows_backward_kernel: dx += the differentiated normalisation's backward of dhat.
template <class T>
void normalize_rows_backward(const std::vector<T>& hat, const std::vector<T>& norms, const std::vector<T>& dhat,
                             std::size_t rows, std::size_t dim, T eps, T* dx) {
  namespace w = ecgssl::cuda_detail::w2v;
  for (std::size_t r = 0; r < rows; ++r) {
    std::vector<cm::acc_t<T>> ps(cm::lanes);
    for (unsigned l = 0; l < cm::lanes; ++l) ps[l] = w::lane_dot(hat.data() + r * dim, dhat.data() + r * dim, dim, l);
    const T proj = static_cast<T>(tree_sum(ps));
    for (std::size_t c = 0; c < dim; ++c) {
      dx[r * dim + c] += w::normalize_backward(dhat[r * dim + c], hat[r * dim + c], proj, norms[r], eps);
    }
  }
}

}  // namespace gpu_test::replay

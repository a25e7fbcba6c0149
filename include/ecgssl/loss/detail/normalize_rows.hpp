#pragma once
/// \file normalize_rows.hpp
/// Row-wise L2 normalisation x/max(‖x‖, eps) and its backward, with the norm either
/// differentiated (F.normalize) or detached (the CMSC criterion, spec §4.3). Internal.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../../core/tensor.hpp"
#include "../../core/threading.hpp"

namespace ecgssl::loss_detail {

/// out: [rows, cols] = x / max(‖x_row‖, eps); norms[r] = ‖x_row‖ (un-clamped).
template <class T>
void normalize_rows(const T* x, std::size_t rows, std::size_t cols, T eps, tensor<T, 2>& out,
                    std::vector<T>& norms) {
  out.resize({rows, cols});
  norms.resize(rows);
  parallel_for(static_cast<std::int64_t>(rows), [&](std::int64_t ri) {
    const auto r = static_cast<std::size_t>(ri);
    const T* xr = x + r * cols;
    accumulator_t<T> sq = 0;
    for (std::size_t c = 0; c < cols; ++c) sq += static_cast<accumulator_t<T>>(xr[c]) * xr[c];
    const T norm = static_cast<T>(std::sqrt(sq));
    norms[r] = norm;
    const T inv = T(1) / std::max(norm, eps);
    T* o = out.data() + r * cols;
    for (std::size_t c = 0; c < cols; ++c) o[c] = xr[c] * inv;
  });
}

/// dx += d(x̂)/dx · dhat. With the norm differentiated: (dhat - x̂ (x̂·dhat)) / ‖x‖ when
/// ‖x‖ > eps (below eps the divisor is the constant eps, so dhat/eps). Detached: dhat/max(‖x‖, eps).
template <class T>
void normalize_rows_backward(const T* x_hat, const T* norms, const T* dhat, std::size_t rows,
                             std::size_t cols, T eps, T* dx, bool detached = false) {
  parallel_for(static_cast<std::int64_t>(rows), [&](std::int64_t ri) {
    const auto r = static_cast<std::size_t>(ri);
    const T* xh = x_hat + r * cols;
    const T* d = dhat + r * cols;
    T* g = dx + r * cols;
    const T norm = norms[r];
    if (detached || !(norm > eps)) {
      const T inv = T(1) / std::max(norm, eps);
      for (std::size_t c = 0; c < cols; ++c) g[c] += d[c] * inv;
      return;
    }
    accumulator_t<T> dot = 0;
    for (std::size_t c = 0; c < cols; ++c) dot += static_cast<accumulator_t<T>>(xh[c]) * d[c];
    const T inv = T(1) / norm;
    const T proj = static_cast<T>(dot);
    for (std::size_t c = 0; c < cols; ++c) g[c] += (d[c] - xh[c] * proj) * inv;
  });
}

}  // namespace ecgssl::loss_detail

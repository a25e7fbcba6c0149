#pragma once
/// \file encoder_layout_kernels.hpp
/// Host math of the encoder's layout steps (model::ecg_transformer, spec §3.4-§3.8): the
/// extractor's [batch, channels, frames] output becomes the transformer's [batch, frames,
/// channels] input, the pre-training heads read the masked frames' rows, the extractor's
/// gradient is multiplied by feature_grad_mult, and a fine-tuning head pools the encoded frames
/// by their mean over time (spec §6.1). The cuda twin is in <ecgssl/cuda/layout_kernels.cuh>.
/// Row indices are b*frames + t; every output element is written by one loop iteration, so the
/// results do not depend on the thread count.

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../../core/backend.hpp"
#include "../../core/threading.hpp"

namespace ecgssl::model::detail {
/// Operation tag of the encoder's layout steps.
struct encoder_layout_op {};
}  // namespace ecgssl::model::detail

namespace ecgssl {

template <>
struct implementation<model::detail::encoder_layout_op, host> {
  /// y[b, c, r] = x[b, r, c] (Accumulate: +=) for x: [batch, rows, cols].
  template <bool Accumulate, class T>
  static void swap_last_axes(const T* x, T* y, std::size_t batch, std::size_t rows, std::size_t cols) {
    parallel_for(static_cast<std::int64_t>(batch), [&](std::int64_t b64) {
      const auto b = static_cast<std::size_t>(b64);
      const T* src = x + b * rows * cols;
      T* dst = y + b * rows * cols;
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < cols; ++c) {
          if constexpr (Accumulate) {
            dst[c * rows + r] += src[r * cols + c];
          } else {
            dst[c * rows + r] = src[r * cols + c];
          }
        }
      }
    });
  }
  /// dst[i, :] = src[rows[i], :] for i < count; dst: [count, width].
  template <class T>
  static void gather_rows(const T* src, const std::size_t* rows, std::size_t count, std::size_t width, T* dst) {
    for (std::size_t i = 0; i < count; ++i) std::copy(src + rows[i] * width, src + (rows[i] + 1) * width, dst + i * width);
  }
  /// dst[rows[i], :] += src[i, :] (the backward of gather_rows; rows are distinct).
  template <class T>
  static void scatter_add_rows(const T* src, const std::size_t* rows, std::size_t count, std::size_t width, T* dst) {
    for (std::size_t i = 0; i < count; ++i) {
      T* d = dst + rows[i] * width;
      const T* s = src + i * width;
      for (std::size_t c = 0; c < width; ++c) d[c] += s[c];
    }
  }
  /// y *= factor.
  template <class T>
  static void scale(T* y, std::size_t n, T factor) {
    for (std::size_t i = 0; i < n; ++i) y[i] *= factor;
  }
  /// y[b, d] = (sum over t, in t order, of x[b, t, d]) / frames for x: [batch, frames, dim]
  /// (the mean pooling of a fine-tuning head, spec §6.1).
  template <class T>
  static void mean_over_time(const T* x, T* y, std::size_t batch, std::size_t frames, std::size_t dim) {
    parallel_for(static_cast<std::int64_t>(batch), [&](std::int64_t b64) {
      const auto b = static_cast<std::size_t>(b64);
      T* pooled = y + b * dim;
      std::fill(pooled, pooled + dim, T(0));
      for (std::size_t t = 0; t < frames; ++t) {
        const T* frame = x + (b * frames + t) * dim;
        for (std::size_t d = 0; d < dim; ++d) pooled[d] += frame[d];
      }
      for (std::size_t d = 0; d < dim; ++d) pooled[d] /= static_cast<T>(frames);
    });
  }
  /// dx[b, t, d] += dy[b, d] / frames (the backward of mean_over_time).
  template <class T>
  static void mean_over_time_backward(const T* dy, T* dx, std::size_t batch, std::size_t frames, std::size_t dim) {
    parallel_for(static_cast<std::int64_t>(batch), [&](std::int64_t b64) {
      const auto b = static_cast<std::size_t>(b64);
      const T* g = dy + b * dim;
      for (std::size_t t = 0; t < frames; ++t) {
        T* frame = dx + (b * frames + t) * dim;
        for (std::size_t d = 0; d < dim; ++d) frame[d] += g[d] / static_cast<T>(frames);
      }
    });
  }
};

}  // namespace ecgssl

#pragma once
/// \file span_mask_kernels.hpp
/// Host math of nn::span_mask (spec §3.5, step 4): masked frames take the learned embedding.
/// The mask itself is drawn on the host for every backend (it is a pure function of the seed
/// and stream), so a device twin only applies it.

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../../core/backend.hpp"

namespace ecgssl::nn::detail {
/// Operation tag: y[b, t, :] = mask[b, t] ? emb : x[b, t, :].
struct span_mask_op {};
}  // namespace ecgssl::nn::detail

namespace ecgssl {

template <>
struct implementation<nn::detail::span_mask_op, host> {
  /// x, y: [rows, dim]; mask: [rows] (nonzero = masked); emb: [dim].
  template <class T>
  static void forward(const T* x, const std::uint8_t* mask, const T* emb, T* y, std::size_t rows, std::size_t dim) {
    for (std::size_t r = 0; r < rows; ++r) {
      const T* src = mask[r] ? emb : x + r * dim;
      std::copy(src, src + dim, y + r * dim);
    }
  }
  /// dx[unmasked rows] += dy; demb += sum of dy over the masked rows, in row order.
  template <class T>
  static void backward(const T* dy, const std::uint8_t* mask, T* demb, T* dx, std::size_t rows, std::size_t dim) {
    for (std::size_t r = 0; r < rows; ++r) {
      const T* src = dy + r * dim;
      T* dst = mask[r] ? demb : dx + r * dim;
      for (std::size_t i = 0; i < dim; ++i) dst[i] += src[i];
    }
  }
};

}  // namespace ecgssl

#pragma once
/// \file container_support.hpp
/// Optional parts of the layer contract that containers forward when a child has them:
/// initialize(random_stream), set_random_stream(random_stream), propagates_gradient().

#include <algorithm>
#include <cstdint>

#include "../../core/philox.hpp"
#include "common.hpp"

namespace ecgssl::nn::detail {

template <class L>
void initialize_child(L& layer, const random_stream& rng) {
  if constexpr (requires { layer.initialize(rng); }) layer.initialize(rng);
}

template <class L>
void set_child_stream(L& layer, const random_stream& rng) {
  if constexpr (requires { layer.set_random_stream(rng); }) layer.set_random_stream(rng);
}

/// False when the layer's backward writes no input gradient at all (grad_scale with factor 0, or
/// a container holding one): everything before it can be skipped.
template <class L>
bool propagates(const L& layer) {
  if constexpr (requires { layer.propagates_gradient(); }) {
    return layer.propagates_gradient();
  } else {
    return true;
  }
}

/// dst += src, elementwise (same shape), in fixed chunks; a device tensor adds on its device.
template <class Tensor>
void add_into(Tensor& dst, const Tensor& src) {
  if constexpr (requires { dst.accumulate(src); }) {
    dst.accumulate(src);
  } else {
    auto* d = dst.data();
    const auto* s = src.data();
    for_chunks(dst.size(), [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) d[i] += s[i];
    });
  }
}

}  // namespace ecgssl::nn::detail

#pragma once
/// \file feature_penalty.hpp
/// Feature penalty L_f = mean(z²) over the raw convolutional features (spec §4.2).

#include <cstddef>
#include <algorithm>
#include <cstdint>

#include "../core/backend.hpp"
#include "../core/tensor.hpp"
#include "../core/threading.hpp"
#include "detail/common.hpp"

namespace ecgssl {

/// z: [batch, channels, frames] (conv extractor output before LayerNorm).
template <class T, class Backend = host>
class feature_penalty {
  static_assert(loss_detail::host_only_v<Backend>, "ecgssl: this operation has no specialisation for the requested backend");

 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = tensor<T, 3>;

  /// Mean of squares (deterministic chunked sum); keeps z for backward in a reused buffer.
  T forward(const input_type& z) {
    if (z.size() == 0) throw shape_error(at_field("feature_penalty.features"), "empty tensor", "at least one element");
    cached_.resize(z.shape());
    std::copy(z.data(), z.data() + z.size(), cached_.data());
    const auto total = deterministic_sum_of_squares(as_span(z));
    return static_cast<T>(total / static_cast<accumulator_t<T>>(z.size()));
  }

  /// grad += upstream · 2z / numel.
  void backward(T upstream, input_type& grad) const {
    require_shape(grad.shape(), cached_.shape(), "feature_penalty.grad");
    const T scale = upstream * T(2) / static_cast<T>(cached_.size());
    const T* z = cached_.data();
    T* g = grad.data();
    const auto n = static_cast<std::int64_t>(cached_.size());
    parallel_for((n + 65535) / 65536, [&](std::int64_t chunk) {
      const std::int64_t end = std::min(n, (chunk + 1) * 65536);
      for (std::int64_t i = chunk * 65536; i < end; ++i) g[i] += scale * z[i];
    });
  }

 private:
  tensor<T, 3> cached_;
};

}  // namespace ecgssl

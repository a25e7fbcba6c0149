#pragma once
/// \file feature_penalty.cuh
/// feature_penalty<T, cuda>: L_f = mean(z²) over device features (spec §4.2), with the host
/// loss's semantics (loss/feature_penalty.hpp is its twin and oracle). The squares are summed in
/// double by thrust (cuda::flat_ops::sum_of_squares: a CUB reduction, no atomics, the same order
/// every run on a given GPU) and the mean returns to the host (blocking); backward accumulates
/// upstream·2z/numel into a device gradient.

#include <thrust/system/cuda/execution_policy.h>

#include <cstddef>

#include "../core/error.hpp"
#include "../loss/feature_penalty.hpp"
#include "detail/launch.cuh"
#include "device_tensor.cuh"
#include "flat_ops.cuh"

namespace ecgssl {

template <class T>
class feature_penalty<T, cuda> {
 public:
  using scalar_type = T;
  using backend_type = cuda;
  using input_type = device_tensor<T, 3>;  // z: [batch, channels, frames] on the device

  /// Mean of squares (blocking: the sum comes back to the host); keeps z for backward.
  T forward(const input_type& z) {
    if (z.size() == 0) throw shape_error(at_field("feature_penalty.features"), "empty tensor", "at least one element");
    cached_.copy_from(z);
    const double total =
        flat_ops::sum_of_squares(thrust::cuda::par.on(cuda_detail::stream()), z.data(), z.size());
    return static_cast<T>(static_cast<accumulator_t<T>>(total) / static_cast<accumulator_t<T>>(z.size()));
  }

  /// grad (device) += upstream · 2z / numel.
  void backward(T upstream, input_type& grad) const {
    require_shape(grad.shape(), cached_.shape(), "feature_penalty.grad");
    const T scale = upstream * T(2) / static_cast<T>(cached_.size());
    flat_ops::add_scaled(thrust::cuda::par.on(cuda_detail::stream()), cached_.data(), scale, grad.data(),
                         cached_.size());
  }

 private:
  device_tensor<T, 3> cached_;
};

}  // namespace ecgssl

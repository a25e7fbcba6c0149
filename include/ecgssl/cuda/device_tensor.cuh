#pragma once
/// \file device_tensor.cuh
/// A row-major N-d tensor in GPU memory: the activation type of the layers on the cuda backend
/// (`backend_tensor_t<T, N, cuda>`), so that `nn::linear<T, cuda>` and the other layers take,
/// return and cache device tensors. RAII over device_buffer (resizing to a size that fits keeps
/// the allocation); copies between host and device are explicit and blocking.

#include <array>
#include <cstddef>
#include <initializer_list>
#include <string>

#include "../core/backend_tensor.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "device_buffer.cuh"
#include "detail/launch.cuh"

namespace ecgssl::cuda_detail {

// dst[i] += src[i].
template <class T>
__global__ void accumulate_kernel(T* dst, const T* src, std::size_t n) {
  ECGSSL_GRID_STRIDE_LOOP(i, n) { dst[i] += src[i]; }
}

// dst[i] += factor * src[i].
template <class T>
__global__ void accumulate_scaled_kernel(T* dst, const T* src, T factor, std::size_t n) {
  ECGSSL_GRID_STRIDE_LOOP(i, n) { dst[i] += factor * src[i]; }
}

}  // namespace ecgssl::cuda_detail

namespace ecgssl {

/// Shape + device storage. Movable, not copyable (copies are explicit: copy_from, to_host).
template <class T, std::size_t N>
class device_tensor {
 public:
  using value_type = T;
  using shape_type = std::array<std::size_t, N>;
  static constexpr std::size_t rank = N;

  device_tensor() = default;
  /// Uninitialised storage of `shape`.
  explicit device_tensor(const shape_type& shape) { resize(shape); }
  /// Allocates and uploads a host tensor (blocking).
  explicit device_tensor(const tensor<T, N>& host) { copy_from_host(host); }

  [[nodiscard]] const shape_type& shape() const noexcept { return shape_; }
  [[nodiscard]] std::size_t size() const noexcept { return buffer_.size(); }
  [[nodiscard]] T* data() noexcept { return buffer_.data(); }
  [[nodiscard]] const T* data() const noexcept { return buffer_.data(); }

  /// Sets the shape; storage is reallocated (contents lost) only when it grows past capacity.
  void resize(const shape_type& shape) {
    std::size_t n = 1;
    for (auto e : shape) n *= e;
    buffer_.resize(n);
    shape_ = shape;
  }
  /// Resizes only when `shape` differs (the layers' workspace rule: no allocation per step).
  template <class Shape>
  void ensure_shape(const Shape& shape) {
    if (std::size(shape) != N) {
      throw shape_error(at_field("device_tensor shape"), std::to_string(std::size(shape)) + " axes",
                        std::to_string(N));
    }
    shape_type s{};
    std::copy(std::begin(shape), std::end(shape), s.begin());
    if (s != shape_) resize(s);
  }

  /// Every element <- 0 (queued on the current stream).
  void zero() { buffer_.zero(); }

  /// this <- other (device to device, queued on the current stream); takes other's shape.
  void copy_from(const device_tensor& other) {
    ensure_shape(other.shape());
    buffer_.copy_from(other.buffer_);
  }
  /// this <- the elements of `other` in order under `shape` (same element count; device to
  /// device, queued on the current stream): a reshaping copy.
  template <std::size_t M>
  void copy_reshaped_from(const device_tensor<T, M>& other, const shape_type& shape) {
    ensure_shape(shape);
    if (other.size() != size()) {
      throw shape_error(at_field("device_tensor copy_reshaped_from"), std::to_string(other.size()) + " elements",
                        std::to_string(size()) + " (the target shape's size)");
    }
    if (size() == 0) return;
    ECGSSL_CUDA_CHECK(cudaMemcpyAsync(data(), other.data(), size() * sizeof(T), cudaMemcpyDeviceToDevice,
                                      cuda_detail::stream()));
  }
  /// this += other elementwise; shapes must match (queued on the current stream).
  void accumulate(const device_tensor& other) {
    if (other.shape() != shape_) {
      require_shape(other.shape(), shape_, "device_tensor accumulate source");
    }
    if (size() == 0) return;
    cuda_detail::accumulate_kernel<<<cuda_detail::grid_for(size()), cuda_detail::block_size, 0,
                                     cuda_detail::stream()>>>(data(), other.data(), size());
    ECGSSL_CUDA_CHECK_LAUNCH();
  }
  /// this += factor * other elementwise (grad_scale's backward); shapes must match.
  void accumulate(const device_tensor& other, T factor) {
    if (other.shape() != shape_) {
      require_shape(other.shape(), shape_, "device_tensor accumulate source");
    }
    if (size() == 0) return;
    cuda_detail::accumulate_scaled_kernel<<<cuda_detail::grid_for(size()), cuda_detail::block_size, 0,
                                            cuda_detail::stream()>>>(data(), other.data(), factor, size());
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  /// device <- host (blocking); takes host's shape.
  void copy_from_host(const tensor<T, N>& host) {
    ensure_shape(host.shape());
    buffer_.copy_from_host(std::span<const T>(host.data(), host.size()));
  }
  /// host <- device (blocking; waits for the work queued before it on the current stream);
  /// `host` is resized to this shape.
  void copy_to_host(tensor<T, N>& host) const {
    if (!std::equal(host.shape().begin(), host.shape().end(), shape_.begin(), shape_.end())) {
      host.resize(shape_);
    }
    buffer_.copy_to_host(std::span<T>(host.data(), host.size()));
  }
  /// The contents as a new host tensor (blocking).
  [[nodiscard]] tensor<T, N> to_host() const {
    tensor<T, N> host(shape_);
    copy_to_host(host);
    return host;
  }

 private:
  device_buffer<T> buffer_;
  shape_type shape_{};
};

template <class T, std::size_t N>
struct backend_tensor<T, N, cuda> {
  using type = device_tensor<T, N>;
};

template <class T>
struct backend_array<T, cuda> {
  using type = device_buffer<T>;
};

}  // namespace ecgssl

#pragma once
/// \file device_buffer.cuh
/// Owning, typed GPU memory (cudaMalloc/cudaFree) for flat parameter and gradient buffers,
/// optimizer state and activations, with explicit host <-> device copies. Resizing to a size
/// that fits keeps the allocation, so workspaces reused across steps do not reallocate.

#include <cuda_runtime.h>

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "cuda_check.cuh"
#include "cuda_context.cuh"

namespace ecgssl {

/// `size()` elements of T in device memory. Movable, not copyable (copies are explicit).
template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  explicit device_buffer(std::size_t size) { resize(size); }
  /// Allocates and copies `host` (blocking).
  explicit device_buffer(std::span<const T> host) {
    resize(host.size());
    copy_from_host(host);
  }
  ~device_buffer() { release(); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }

  /// Sets the size; reallocates (contents lost) only when it exceeds the capacity.
  void resize(std::size_t size) {
    if (size > capacity_) {
      release();
      void* p = nullptr;
      ECGSSL_CUDA_CHECK(cudaMalloc(&p, size * sizeof(T)));
      data_ = static_cast<T*>(p);
      capacity_ = size;
    }
    size_ = size;
  }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  /// Sets every byte to zero, queued on the current stream.
  void zero() {
    if (size_ != 0)
      ECGSSL_CUDA_CHECK(
          cudaMemsetAsync(data_, 0, size_ * sizeof(T), cuda_context::current().stream()));
  }

  /// device <- host, blocking. `host.size()` must equal size().
  void copy_from_host(std::span<const T> host) {
    require_same_size(host.size(), "host source");
    copy_from_host_async(host, cuda_context::current().stream());
    ECGSSL_CUDA_CHECK(cudaStreamSynchronize(cuda_context::current().stream()));
  }
  /// host <- device, blocking (waits for the work queued before it on the current stream).
  void copy_to_host(std::span<T> host) const {
    require_same_size(host.size(), "host destination");
    copy_to_host_async(host, cuda_context::current().stream());
    ECGSSL_CUDA_CHECK(cudaStreamSynchronize(cuda_context::current().stream()));
  }
  /// Convenience: the contents as a std::vector (blocking).
  [[nodiscard]] std::vector<T> to_host() const {
    std::vector<T> host(size_);
    copy_to_host(std::span<T>(host));
    return host;
  }

  /// Asynchronous copies on `stream`; the host memory must stay alive (and, for true overlap,
  /// be pinned) until the stream has passed the copy.
  void copy_from_host_async(std::span<const T> host, cudaStream_t stream) {
    require_same_size(host.size(), "host source");
    if (size_ != 0)
      ECGSSL_CUDA_CHECK(
          cudaMemcpyAsync(data_, host.data(), size_ * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  void copy_to_host_async(std::span<T> host, cudaStream_t stream) const {
    require_same_size(host.size(), "host destination");
    if (size_ != 0)
      ECGSSL_CUDA_CHECK(
          cudaMemcpyAsync(host.data(), data_, size_ * sizeof(T), cudaMemcpyDeviceToHost, stream));
  }
  /// device <- device of the same size, queued on the current stream.
  void copy_from(const device_buffer& other) {
    require_same_size(other.size(), "device source");
    if (size_ != 0) {
      ECGSSL_CUDA_CHECK(cudaMemcpyAsync(data_, other.data(), size_ * sizeof(T),
                                        cudaMemcpyDeviceToDevice,
                                        cuda_context::current().stream()));
    }
  }

 private:
  void release() noexcept {
    if (data_ != nullptr) (void)cudaFree(data_);  // destructors must not throw
    data_ = nullptr;
    size_ = capacity_ = 0;
  }
  void require_same_size(std::size_t other, const char* what) const {
    if (other != size_) {
      throw shape_error(at_field(std::string("device_buffer copy ") + what),
                        std::to_string(other) + " elements",
                        std::to_string(size_) + " (the buffer's size)");
    }
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace ecgssl

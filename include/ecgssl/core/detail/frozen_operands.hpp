#pragma once
/// \file frozen_operands.hpp
/// bf16 copies of product operands that do not change: weights during inference. A product in
/// bf16 mode rounds both operands before oneDNN multiplies them (nn/detail/gemm.hpp); for an
/// inference pass that means rounding every weight matrix again on every forward, which at batch
/// 1 costs more than the products. Memory declared frozen (inference_parameters does this for a
/// store's values, optim/training_backend.hpp) gets each operand read from it rounded once, on
/// first use, and kept until the declaration ends.
///
/// The contract is the caller's: nothing writes the frozen memory while the registration lives
/// (the same contract as the device mirror that inference_parameters keeps on cuda, which is
/// uploaded once). Only operands lying wholly inside a frozen range are served from copies.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "bf16_rounding.hpp"

namespace ecgssl::detail {

class frozen_operands {
  struct range {
    const float* begin;
    const float* end;
    std::uint64_t id;
    /// (first element, lines, line length, line stride) -> the operand's bits, lines dense.
    std::map<std::tuple<const float*, std::int64_t, std::int64_t, std::int64_t>, std::vector<std::uint16_t>> copies;
  };
  struct state {
    std::mutex mutex;
    std::vector<std::unique_ptr<range>> ranges;
    std::atomic<std::size_t> count{0};  ///< ranges.size(), read without the lock
    std::uint64_t next_id = 1;
  };
  static state& shared() {
    static state s;
    return s;
  }

 public:
  /// While alive, the memory it was made for counts as frozen; ending it frees the copies.
  class registration {
   public:
    registration() = default;
    registration(registration&& other) noexcept : id_(std::exchange(other.id_, 0)) {}
    registration& operator=(registration&& other) noexcept {
      if (this != &other) {
        release();
        id_ = std::exchange(other.id_, 0);
      }
      return *this;
    }
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    ~registration() { release(); }

   private:
    friend class frozen_operands;
    explicit registration(std::uint64_t id) : id_(id) {}
    void release() {
      if (id_ == 0) return;
      auto& s = shared();
      const std::lock_guard lock(s.mutex);
      std::erase_if(s.ranges, [&](const std::unique_ptr<range>& r) { return r->id == id_; });
      s.count.store(s.ranges.size());
      id_ = 0;
    }
    std::uint64_t id_ = 0;
  };

  /// Declares `values` unchanged until the returned registration ends.
  [[nodiscard]] static registration freeze(std::span<const float> values) {
    if (values.empty()) return registration();
    auto& s = shared();
    const std::lock_guard lock(s.mutex);
    const std::uint64_t id = s.next_id++;
    s.ranges.push_back(std::make_unique<range>(range{values.data(), values.data() + values.size(), id, {}}));
    s.count.store(s.ranges.size());
    return registration(id);
  }

  /// Number of frozen ranges and of copies made in them (for tests).
  static std::pair<std::size_t, std::size_t> counts() {
    auto& s = shared();
    const std::lock_guard lock(s.mutex);
    std::size_t copies = 0;
    for (const auto& r : s.ranges) copies += r->copies.size();
    return {s.ranges.size(), copies};
  }

  /// The bf16 bits of the operand made of `lines` runs of `length` floats, `stride` apart, from
  /// `first`, as dense lines; rounded on first use. nullptr where the operand is not wholly inside
  /// one frozen range (or its lines overlap).
  static const std::uint16_t* find(const float* first, std::int64_t lines, std::int64_t length, std::int64_t stride) {
    if (lines <= 0 || length <= 0 || stride < length) return nullptr;
    auto& s = shared();
    if (s.count.load() == 0) return nullptr;  // nothing frozen: no lock on every product
    const std::lock_guard lock(s.mutex);
    const float* last = first + (lines - 1) * stride + length;  // one past the last element read
    const std::less<const float*> before;  // a total order, also between unrelated arrays
    for (const auto& r : s.ranges) {
      if (before(first, r->begin) || before(r->end, last)) continue;
      auto [it, made] = r->copies.try_emplace(std::make_tuple(first, lines, length, stride));
      if (made) {
        it->second.resize(static_cast<std::size_t>(lines * length));
        for (std::int64_t l = 0; l < lines; ++l) round_to_bf16_bits(first + l * stride, it->second.data() + l * length, length);
      }
      return it->second.data();
    }
    return nullptr;
  }
};

}  // namespace ecgssl::detail

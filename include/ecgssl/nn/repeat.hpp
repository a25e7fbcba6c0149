#pragma once
/// \file repeat.hpp
/// A block repeated `depth` times, chosen at run time (spec §3.7: 12 encoder layers; §3.3: the
/// extractor's blocks 2-4). Block i declares its parameters under `<prefix><i>.` as a
/// torch.nn.ModuleList does (e.g. encoder.layers.3.fc1.weight); set_first_index shifts i.

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/concepts.hpp"
#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "detail/common.hpp"
#include "detail/container_support.hpp"

namespace ecgssl::nn {

/// y = B_{depth-1}(... B_0(x)) with independent parameters per block.
template <class Block>
class repeat {
  static_assert(layer<Block>, "repeat's block must model ecgssl::layer");
  static_assert(std::is_same_v<typename Block::input_type, typename Block::output_type>,
                "repeat needs a block whose output has the input's type");

 public:
  using scalar_type = typename Block::scalar_type;
  using backend_type = typename Block::backend_type;
  using input_type = typename Block::input_type;
  using output_type = typename Block::output_type;

  repeat() = default;
  /// `depth` copies of `prototype` (copy it before declaring its parameters).
  repeat(std::size_t depth, const Block& prototype) : blocks_(depth, prototype) { check_depth(); }
  /// Block i = make(i).
  template <class Make>
    requires std::is_invocable_r_v<Block, Make, std::size_t>
  repeat(std::size_t depth, Make&& make) {
    blocks_.reserve(depth);
    for (std::size_t i = 0; i < depth; ++i) blocks_.push_back(make(i));
    check_depth();
  }

  /// Names block i `<prefix><first + i>.`: e.g. first = 1 when block 0 of the same ModuleList is
  /// a different type (the extractor's conv_layers.0 has the GroupNorm, 1-3 do not).
  repeat& set_first_index(std::size_t first) {
    first_index_ = first;
    return *this;
  }

  [[nodiscard]] std::size_t depth() const { return blocks_.size(); }
  [[nodiscard]] Block& operator[](std::size_t i) { return blocks_[i]; }
  [[nodiscard]] const Block& operator[](std::size_t i) const { return blocks_[i]; }

  void declare_parameters(parameter_store<scalar_type>& store, const std::string& prefix) {
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      blocks_[i].declare_parameters(store, prefix + std::to_string(first_index_ + i) + ".");
    }
  }
  /// Block i initialises from child_stream(rng, i).
  void initialize(const random_stream& rng) {
    for (std::size_t i = 0; i < blocks_.size(); ++i) detail::initialize_child(blocks_[i], detail::child_stream(rng, i));
  }
  /// Block i draws from child_stream(rng, i).
  void set_random_stream(const random_stream& rng) {
    for (std::size_t i = 0; i < blocks_.size(); ++i) detail::set_child_stream(blocks_[i], detail::child_stream(rng, i));
  }
  void set_training(bool on) {
    for (auto& b : blocks_) b.set_training(on);
  }

  void forward(const input_type& x, output_type& y) {
    check_depth();
    const std::size_t n = blocks_.size();
    activations_.resize(n > 0 ? n - 1 : 0);
    const input_type* in = &x;
    for (std::size_t i = 0; i + 1 < n; ++i) {
      blocks_[i].forward(*in, activations_[i]);
      in = &activations_[i];
    }
    blocks_[n - 1].forward(*in, y);
  }

  /// Reverse order; stops after a block that propagates no gradient.
  void backward(const output_type& dy, input_type& dx) {
    const std::size_t n = blocks_.size();
    gradients_.resize(activations_.size());
    const output_type* g = &dy;
    for (std::size_t i = n - 1; i > 0; --i) {
      auto& buffer = gradients_[i - 1];
      detail::zero_like(buffer, activations_[i - 1].shape());
      blocks_[i].backward(*g, buffer);
      if (!detail::propagates(blocks_[i])) return;
      g = &buffer;
    }
    blocks_[0].backward(*g, dx);
  }

  [[nodiscard]] bool propagates_gradient() const {
    for (const auto& b : blocks_) {
      if (!detail::propagates(b)) return false;
    }
    return true;
  }

 private:
  void check_depth() const {
    if (blocks_.empty()) throw config_error(at_field("repeat depth"), "0", "at least one block");
  }

  std::vector<Block> blocks_;
  std::size_t first_index_ = 0;
  std::vector<input_type> activations_;  // output of block i, for i < depth - 1
  std::vector<input_type> gradients_;
};

}  // namespace ecgssl::nn

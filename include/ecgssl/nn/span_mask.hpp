#pragma once
/// \file span_mask.hpp
/// wav2vec 2.0 time masking (spec §3.5) with the learned mask embedding:
///  1. num_mask = max(min_masks, int(mask_prob * T / mask_length + u)), u ~ U[0,1), one value
///     for the whole batch;
///  2. per sample, num_mask distinct span starts drawn uniformly from [0, T - mask_length);
///     frames [s, s + mask_length) are masked (spans may overlap);
///  3. every sample keeps a random subset of its masked frames of the batch's smallest union
///     size, so all samples have the same number M of masked frames;
///  4. masked frames of x: [batch, time, dim] are replaced by mask_emb [dim].
/// Random numbers come from a counter-based stream (one per batch), so the mask is a pure
/// function of (seed, stream). Tests may supply the mask explicitly.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "detail/common.hpp"
#include "detail/span_mask_kernels.hpp"

namespace ecgssl::nn {

/// Options of span_mask (defaults = spec §3.5 pre-training values).
struct span_mask_options {
  std::size_t dim = 768;         ///< width of mask_emb
  double mask_prob = 0.65;       ///< expected fraction of span starts x span length
  std::size_t mask_length = 10;  ///< span length in frames
  std::size_t min_masks = 2;     ///< lower bound on spans per sample
};

/// Draws a [batch, frames] span mask (1 = masked) following spec §3.5 from `rng`.
inline tensor<std::uint8_t, 2> compute_span_mask(std::size_t batch, std::size_t frames,
                                                const span_mask_options& options,
                                                const random_stream& rng) {
  const std::size_t length = options.mask_length;
  if (length == 0) throw config_error(at_field("span_mask.mask_length"), "0", "a positive span length");
  if (!(options.mask_prob >= 0.0 && options.mask_prob <= 1.0)) {
    throw config_error(at_field("span_mask.mask_prob"), std::to_string(options.mask_prob), "a value in [0, 1]");
  }
  const double u = rng.uniform(0);
  const auto drawn = static_cast<std::size_t>(options.mask_prob * static_cast<double>(frames) /
                                                  static_cast<double>(length) + u);
  const std::size_t num_mask = std::max(options.min_masks, drawn);
  tensor<std::uint8_t, 2> mask = xt::zeros<std::uint8_t>({batch, frames});
  if (num_mask == 0 || batch == 0) return mask;
  // fairseq: when T - length <= num_mask the span length used for the start range shrinks to
  // T - num_mask - 1, so num_mask distinct starts still exist.
  std::size_t min_len = length;
  if (min_len >= frames || frames - min_len <= num_mask) {
    if (frames < num_mask + 2) {
      throw data_error(at_field("span_mask.frames"),
                       std::to_string(frames) + " frames cannot hold " + std::to_string(num_mask) + " spans",
                       "at least " + std::to_string(num_mask + 2) + " frames");
    }
    min_len = frames - num_mask - 1;
  }
  const std::size_t starts = frames - min_len;

  std::vector<std::vector<std::uint32_t>> masked(batch);
  std::vector<std::uint32_t> pool;
  for (std::size_t b = 0; b < batch; ++b) {
    const random_stream sample_rng(rng.seed(), stream_id({rng.stream(), 1, b}));
    pool.resize(starts);
    std::iota(pool.begin(), pool.end(), 0u);
    std::vector<std::uint8_t> hit(frames, 0);
    for (std::size_t i = 0; i < num_mask; ++i) {  // partial Fisher-Yates: distinct starts
      const std::size_t j = i + sample_rng.below(i, static_cast<std::uint32_t>(starts - i));
      std::swap(pool[i], pool[j]);
      for (std::size_t o = 0; o < length && pool[i] + o < frames; ++o) hit[pool[i] + o] = 1;
    }
    for (std::uint32_t t = 0; t < frames; ++t) {
      if (hit[t]) masked[b].push_back(t);
    }
  }
  std::size_t smallest = frames;
  for (const auto& m : masked) smallest = std::min(smallest, m.size());
  for (std::size_t b = 0; b < batch; ++b) {
    auto& m = masked[b];
    if (m.size() > smallest) {  // keep a uniformly random subset of size `smallest`
      const random_stream trim_rng(rng.seed(), stream_id({rng.stream(), 2, b}));
      for (std::size_t i = 0; i < smallest; ++i) {
        const std::size_t j = i + trim_rng.below(i, static_cast<std::uint32_t>(m.size() - i));
        std::swap(m[i], m[j]);
      }
      m.resize(smallest);
    }
    for (auto t : m) mask(b, t) = 1;
  }
  return mask;
}

/// Replaces masked frames with the learned mask embedding. x: [batch, time, dim] -> same shape.
/// In evaluation (set_training(false)) it is the identity and masks nothing. The mask is drawn
/// on the host on every backend (mask() is a host tensor); on cuda it is uploaded and applied
/// there.
template <class T, class Backend = host>
class span_mask {
 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = backend_tensor_t<T, 3, Backend>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, 3, Backend>;

  explicit span_mask(span_mask_options options = {}) : options_(options) {
    if (options_.dim == 0) throw config_error(at_field("span_mask.dim"), "0", "a positive width");
  }

  [[nodiscard]] const span_mask_options& options() const { return options_; }

  /// Declares `<prefix>mask_emb` [dim] (the wav2vec2 name is the top-level "mask_emb").
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    mask_emb_ = store.add(prefix + "mask_emb", {options_.dim});
  }
  /// Spec §3.10: mask_emb ~ U[0, 1).
  void initialize(const random_stream& rng) {
    auto v = mask_emb_.value();
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(rng.uniform(i));
  }

  void set_training(bool training) { training_ = training; }
  /// The stream the next training forward draws its mask from (one per batch).
  void set_random_stream(const random_stream& rng) { rng_ = rng; }
  /// Uses `mask` ([batch, time], 1 = masked) instead of drawing one, until clear_mask().
  void set_mask(const tensor<std::uint8_t, 2>& mask) {
    injected_ = mask;
    use_injected_ = true;
  }
  void clear_mask() { use_injected_ = false; }

  // x: [batch, time, dim] -> y: [batch, time, dim]
  void forward(const input_type& x, output_type& y) {
    const auto batch = x.shape()[0];
    const auto time = x.shape()[1];
    detail::require_extent(x.shape()[2], options_.dim, std::string("span_mask."), "input", "last axis");
    if (!training_) {
      mask_ = xt::zeros<std::uint8_t>({batch, time});
    } else if (use_injected_) {
      require_shape(injected_.shape(), std::array<std::size_t, 2>{batch, time}, "span_mask.mask");
      mask_ = injected_;
    } else {
      if (!rng_) {
        throw config_error(at_field("span_mask"), "training forward without a random stream",
                           "set_random_stream() before forward in training mode");
      }
      mask_ = compute_span_mask(batch, time, options_, *rng_);
    }
    device_mask_current_ = false;
    detail::ensure_shape(y, x.shape());
    kernels::forward(x.data(), mask_where_computed(), detail::values_of<Backend>(mask_emb_), y.data(), batch * time,
                     options_.dim);
  }

  // Accumulates dx at unmasked frames and d mask_emb from the masked ones.
  void backward(const output_type& dy, input_type& dx) {
    const auto batch = mask_.shape()[0];
    const auto time = mask_.shape()[1];
    const auto d = options_.dim;
    require_shape(dy.shape(), std::array<std::size_t, 3>{batch, time, d}, "span_mask.output_grad");
    require_shape(dx.shape(), std::array<std::size_t, 3>{batch, time, d}, "span_mask.input_grad");
    kernels::backward(dy.data(), mask_where_computed(), detail::grads_of<Backend>(mask_emb_), dx.data(), batch * time,
                      d);
  }

  /// The mask of the last forward, [batch, time], 1 = masked.
  [[nodiscard]] const tensor<std::uint8_t, 2>& mask() const { return mask_; }
  [[nodiscard]] const parameter<T>& mask_embedding() const { return mask_emb_; }

 private:
  span_mask_options options_;
  parameter<T> mask_emb_;
  bool training_ = true;
  bool use_injected_ = false;
  std::optional<random_stream> rng_;
  tensor<std::uint8_t, 2> injected_;
  tensor<std::uint8_t, 2> mask_;
  backend_array_t<std::uint8_t, Backend> device_mask_;  // cuda: mask_ uploaded by forward
  bool device_mask_current_ = false;

  using kernels = implementation_t<detail::span_mask_op, Backend>;

  // The mask where the kernels run: the host tensor itself, or its device copy (uploaded once
  // per forward).
  const std::uint8_t* mask_where_computed() {
    if constexpr (std::is_same_v<Backend, host>) {
      return mask_.data();
    } else {
      if (!device_mask_current_) {
        device_mask_.resize(mask_.size());
        device_mask_.copy_from_host(std::span<const std::uint8_t>(mask_.data(), mask_.size()));
        device_mask_current_ = true;
      }
      return device_mask_.data();
    }
  }
};

}  // namespace ecgssl::nn

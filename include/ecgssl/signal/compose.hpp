#pragma once
/// \file compose.hpp
/// Compile-time composition of signal transforms: compose<A, B, C> applies A, then B, then C to
/// one recording x: [leads, samples] (a fold over a tuple, no virtual calls).
///
/// Random streams: stage i sees ctx.rng replaced by the sub-stream
/// random_stream(seed, stream_id({stream, i})), so two stochastic stages never read the same
/// draws even when they are two instances of one augmentation. The caller's ctx.rng is restored
/// afterwards; the sampling frequency a stage sets (resampling) is kept for the next stages.

#include <cstdint>
#include <tuple>
#include <utility>

#include "../core/concepts.hpp"

namespace ecgssl::signal {

/// Applies Transforms... in order; itself a signal_transform.
template <signal_transform... Transforms>
class compose {
 public:
  /// Default-constructed stages (for stages that have a default).
  compose() requires(sizeof...(Transforms) > 0) = default;
  /// The given stages, in order (with no stages: the identity).
  explicit compose(Transforms... stages) : stages_(std::move(stages)...) {}

  void apply(tensor<float, 2>& x, signal_context& ctx) const {
    const random_stream outer = ctx.rng;
    apply_all(x, ctx, outer, std::index_sequence_for<Transforms...>{});
    ctx.rng = outer;
  }

  /// Stage I, e.g. to adjust its parameters after construction.
  template <std::size_t I>
  [[nodiscard]] auto& stage() { return std::get<I>(stages_); }
  template <std::size_t I>
  [[nodiscard]] const auto& stage() const { return std::get<I>(stages_); }

 private:
  template <std::size_t... I>
  void apply_all(tensor<float, 2>& x, signal_context& ctx, const random_stream& outer,
                 std::index_sequence<I...>) const {
    (apply_one<I>(x, ctx, outer), ...);
  }
  template <std::size_t I>
  void apply_one(tensor<float, 2>& x, signal_context& ctx, const random_stream& outer) const {
    ctx.rng = random_stream(outer.seed(), stream_id({outer.stream(), static_cast<std::uint64_t>(I)}));
    std::get<I>(stages_).apply(x, ctx);
  }

  std::tuple<Transforms...> stages_;
};

}  // namespace ecgssl::signal

#pragma once
/// \file concepts.hpp
/// The component contracts, as C++20 concepts. Each has an archetype in archetypes.hpp that a
/// test static_asserts, so this documentation and the code cannot drift apart.

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "parameter_store.hpp"
#include "philox.hpp"
#include "tensor.hpp"

namespace ecgssl {

/// A layer with an explicit forward/backward pair (llm.c style).
///  - `declare_parameters(store, prefix)` adds its tensors to the model's flat store under
///    `prefix` (wav2vec2-style state-dict names); a layer without parameters adds nothing.
///  - `forward(x, y)` writes y (resizing it if needed) and caches exactly what backward needs.
///  - `backward(dy, dx)` *accumulates* (+=) the input gradient into dx (already shaped like x)
///    and the parameter gradients into the store's gradient buffer.
///  - `set_training(bool)` switches dropout/masking behaviour.
template <class L>
concept layer = requires(L& l, const typename L::input_type& x, typename L::output_type& y,
                         const typename L::output_type& dy, typename L::input_type& dx,
                         parameter_store<typename L::scalar_type>& store, const std::string& prefix) {
  typename L::scalar_type;
  typename L::backend_type;
  typename L::input_type;
  typename L::output_type;
  l.declare_parameters(store, prefix);
  l.forward(x, y);
  l.backward(dy, dx);
  l.set_training(bool{});
};

/// A loss: `forward(in)` returns the value and caches; `backward(upstream, grad)` accumulates
/// upstream * dL/d(in) into grad (shaped like in).
template <class F>
concept loss_function = requires(F& f, const typename F::input_type& in,
                                 typename F::input_type& grad, typename F::scalar_type upstream) {
  typename F::scalar_type;
  typename F::input_type;
  { f.forward(in) } -> std::convertible_to<typename F::scalar_type>;
  f.backward(upstream, grad);
};

/// How one flat buffer of parameters moves given its gradient (ensmallen-style policy).
/// `state_names` names the per-parameter state buffers the policy needs (e.g. "exp_avg",
/// "exp_avg_sq"); the optimizer allocates them lazily and passes them in that order.
template <class U, class T = float>
concept update_policy = requires(U& u, std::span<T> params, std::span<const T> grads,
                                 std::span<const std::span<T>> state, double learning_rate,
                                 std::int64_t step) {
  { U::state_names.size() } -> std::convertible_to<std::size_t>;
  u.apply(params, grads, state, learning_rate, step);
};

/// A learning-rate schedule: the rate to use for update number `update` (0-based).
template <class S>
concept schedule = requires(const S& s, std::int64_t update) {
  { s.learning_rate(update) } -> std::convertible_to<double>;
};

/// What a signal transform may read and change besides the samples.
struct signal_context {
  double sampling_frequency = 500.0;  ///< Hz; a resampler updates it
  random_stream rng{0, 0};            ///< this record/segment's random stream
};

/// A transform on one recording, x: [leads, samples] (float). May change the number of samples
/// (resampling, cropping) and ctx.sampling_frequency.
template <class X>
concept signal_transform = requires(const X& t, tensor<float, 2>& x, signal_context& ctx) {
  t.apply(x, ctx);
};

/// A lead-masking policy: zeroes some leads of x: [leads, samples] and returns the bit mask of
/// the leads it kept (bit l set = lead l kept).
template <class M>
concept masking_policy = requires(const M& m, tensor<float, 2>& x, const random_stream& rng) {
  { m.apply(x, rng) } -> std::convertible_to<std::uint32_t>;
};

}  // namespace ecgssl

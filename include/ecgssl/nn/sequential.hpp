#pragma once
/// \file sequential.hpp
/// Compile-time chain of layers over a tuple (DESIGN "compile-time composition, kept flat"):
/// forward is a left fold, backward the reverse fold; the activations between children are
/// cached (and their gradient buffers reused) inside the container. Used for the extractor
/// blocks of spec §3.3 (conv -> dropout -> norm -> gelu) and the FFN of §3.7.

#include <array>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../core/concepts.hpp"
#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "detail/common.hpp"
#include "detail/container_support.hpp"

namespace ecgssl::nn {

/// y = L_{n-1}(... L_1(L_0(x))). Child i declares its parameters under `<prefix><name_i>.`,
/// where the names default to "0", "1", ... as in torch.nn.Sequential (set_names changes them; an
/// empty name adds no level).
template <class... Layers>
class sequential {
  static_assert(sizeof...(Layers) >= 1, "sequential needs at least one layer");
  static_assert((layer<Layers> && ...), "every child of sequential must model ecgssl::layer");

  static constexpr std::size_t count = sizeof...(Layers);
  template <std::size_t I>
  using child = std::tuple_element_t<I, std::tuple<Layers...>>;

  template <std::size_t... I>
  static constexpr bool chained(std::index_sequence<I...>) {
    return (std::is_same_v<typename child<I>::output_type, typename child<I + 1>::input_type> && ...);
  }
  static_assert(chained(std::make_index_sequence<count - 1>{}),
                "sequential: each layer's output_type must be the next layer's input_type");

 public:
  using scalar_type = typename child<0>::scalar_type;
  using backend_type = typename child<0>::backend_type;
  using input_type = typename child<0>::input_type;
  using output_type = typename child<count - 1>::output_type;

  sequential() { for (std::size_t i = 0; i < count; ++i) names_[i] = std::to_string(i); }
  explicit sequential(Layers... layers) : layers_(std::move(layers)...) {
    for (std::size_t i = 0; i < count; ++i) names_[i] = std::to_string(i);
  }

  /// Names of the children in parameter names (e.g. {"fc1", "", "", "fc2"}).
  sequential& set_names(std::array<std::string, count> names) {
    names_ = std::move(names);
    return *this;
  }

  template <std::size_t I>
  [[nodiscard]] child<I>& get() { return std::get<I>(layers_); }
  template <std::size_t I>
  [[nodiscard]] const child<I>& get() const { return std::get<I>(layers_); }
  [[nodiscard]] static constexpr std::size_t size() { return count; }

  void declare_parameters(parameter_store<scalar_type>& store, const std::string& prefix) {
    each([&]<std::size_t I>(auto& l) {
      l.declare_parameters(store, names_[I].empty() ? prefix : prefix + names_[I] + ".");
    });
  }

  /// Child i initialises from child_stream(rng, i) (if it has parameters to initialise).
  void initialize(const random_stream& rng) {
    each([&]<std::size_t I>(auto& l) { detail::initialize_child(l, detail::child_stream(rng, I)); });
  }

  /// Child i draws (dropout masks...) from child_stream(rng, i).
  void set_random_stream(const random_stream& rng) {
    each([&]<std::size_t I>(auto& l) { detail::set_child_stream(l, detail::child_stream(rng, I)); });
  }

  void set_training(bool on) {
    each([&]<std::size_t>(auto& l) { l.set_training(on); });
  }

  void forward(const input_type& x, output_type& y) { forward_from<0>(x, y); }

  /// Reverse fold; stops after a child that propagates no gradient (grad_scale factor 0).
  void backward(const output_type& dy, input_type& dx) { backward_from<count - 1>(dy, dx); }

  /// False when some child stops the gradient: the owner may skip what comes before.
  [[nodiscard]] bool propagates_gradient() const {
    return std::apply([](const auto&... l) { return (detail::propagates(l) && ...); }, layers_);
  }

 private:
  template <class F>
  void each(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f.template operator()<I>(std::get<I>(layers_)), ...);
    }(std::make_index_sequence<count>{});
  }

  template <std::size_t I>
  void forward_from(const typename child<I>::input_type& in, output_type& y) {
    if constexpr (I + 1 == count) {
      std::get<I>(layers_).forward(in, y);
    } else {
      auto& out = std::get<I>(activations_);
      std::get<I>(layers_).forward(in, out);
      forward_from<I + 1>(out, y);
    }
  }

  template <std::size_t I>
  void backward_from(const typename child<I>::output_type& g, input_type& dx) {
    if constexpr (I == 0) {
      std::get<0>(layers_).backward(g, dx);
    } else {
      // Gradient with respect to child I's input = child I-1's output.
      auto& buffer = std::get<I - 1>(gradients_);
      detail::zero_like(buffer, std::get<I - 1>(activations_).shape());
      auto& l = std::get<I>(layers_);
      l.backward(g, buffer);
      if (detail::propagates(l)) backward_from<I - 1>(buffer, dx);
    }
  }

  std::tuple<Layers...> layers_;
  std::array<std::string, count> names_;
  std::tuple<typename Layers::output_type...> activations_;  // the last one stays unused
  std::tuple<typename Layers::output_type...> gradients_;
};

}  // namespace ecgssl::nn

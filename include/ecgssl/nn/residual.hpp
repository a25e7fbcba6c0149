#pragma once
/// \file residual.hpp
/// Residual connection y = x + inner(x) (spec §3.6 h + pos, §3.7 h + attention, h + FFN).

#include <string>
#include <type_traits>

#include "../core/concepts.hpp"
#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "detail/container_support.hpp"

namespace ecgssl::nn {

/// y = x + inner(x). The inner layer's parameters keep the container's prefix unchanged.
template <class Inner>
class residual {
  static_assert(layer<Inner>, "residual's inner block must model ecgssl::layer");
  static_assert(std::is_same_v<typename Inner::input_type, typename Inner::output_type>,
                "residual needs an inner block whose output has the input's type");

 public:
  using scalar_type = typename Inner::scalar_type;
  using backend_type = typename Inner::backend_type;
  using input_type = typename Inner::input_type;
  using output_type = typename Inner::output_type;

  residual() = default;
  explicit residual(Inner inner) : inner_(std::move(inner)) {}

  [[nodiscard]] Inner& inner() { return inner_; }
  [[nodiscard]] const Inner& inner() const { return inner_; }

  void declare_parameters(parameter_store<scalar_type>& store, const std::string& prefix) {
    inner_.declare_parameters(store, prefix);
  }
  void initialize(const random_stream& rng) { detail::initialize_child(inner_, rng); }
  void set_random_stream(const random_stream& rng) { detail::set_child_stream(inner_, rng); }
  void set_training(bool on) { inner_.set_training(on); }

  void forward(const input_type& x, output_type& y) {
    inner_.forward(x, y);
    detail::check_shape(y.shape(), x.shape(), detail::no_name, "residual inner output");
    detail::add_into(y, x);
  }

  /// dx += dy (the skip path) + inner's input gradient.
  void backward(const output_type& dy, input_type& dx) {
    detail::check_shape(dx.shape(), dy.shape(), detail::no_name, "residual input gradient");
    inner_.backward(dy, dx);
    detail::add_into(dx, dy);
  }

 private:
  Inner inner_;
};

}  // namespace ecgssl::nn

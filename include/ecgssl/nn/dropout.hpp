#pragma once
/// \file dropout.hpp
/// Inverted dropout (spec §3.4 dropout_input / dropout_features, §3.7 dropout, attention and
/// activation dropout): in training, each element is kept with probability 1 - p and scaled by
/// 1/(1 - p); in evaluation, identity. The mask comes from a counter-based random_stream that
/// the owner sets before each forward (`set_random_stream`), so it is reproducible whatever the
/// thread schedule; tests may inject an explicit 0/1 keep mask instead (parity with PyTorch).

#include <cstddef>
#include <optional>
#include <string>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/parameter_store.hpp"
#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "detail/common.hpp"
#include "detail/elementwise_kernels.hpp"

namespace ecgssl::nn {

/// Dropout on a tensor of any rank; no parameters.
template <class T, class B = host, std::size_t Rank = 3>
class dropout {
 public:
  using scalar_type = T;
  using backend_type = B;
  using input_type = backend_tensor_t<T, Rank, B>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, Rank, B>;

  dropout() = default;
  explicit dropout(double p) : p_(p) {
    if (!(p >= 0.0 && p < 1.0)) {
      throw config_error(at_field("dropout p"), std::to_string(p), "a probability in [0, 1)");
    }
  }

  void declare_parameters(parameter_store<T>&, const std::string& prefix) { name_ = prefix; }

  /// The stream the next forward draws its mask from (element i uses draw i). The owner gives
  /// each (step, layer) its own stream, e.g. stream_id({rng_purpose::dropout, step, layer_id}).
  void set_random_stream(const random_stream& rng) { rng_ = rng; }

  /// Uses `keep` (0 or 1 per element, shape of the next input; a host tensor on every backend)
  /// instead of random draws, until
  /// clear_mask(). Kept elements are still scaled by 1/(1 - p).
  void set_mask(const tensor<T, Rank>& keep) {
    detail::copy_into(injected_, keep);
    const T scale = static_cast<T>(1.0 / (1.0 - p_));
    for (std::size_t i = 0; i < injected_.size(); ++i) {
      const T k = injected_.data()[i];
      if (k != T(0) && k != T(1)) {
        throw data_error(at_field(name_ + "dropout mask"), "element " + std::to_string(i) + " is " +
                         std::to_string(k), "0 or 1");
      }
      injected_.data()[i] = k * scale;
    }
    use_injected_ = true;
  }
  void clear_mask() { use_injected_ = false; }

  void forward(const input_type& x, output_type& y) {
    detail::ensure_shape(y, x.shape());
    active_ = training_ && p_ > 0.0;
    shape_ = x.shape();
    have_forward_ = true;
    if (!active_) {
      detail::copy_into(y, x);
      return;
    }
    if (use_injected_) {
      detail::check_shape(injected_.shape(), x.shape(), name_, "dropout mask");
      detail::assign_from_host(scale_, injected_);
    } else {
      if (!rng_) {
        throw config_error(at_field(name_ + "dropout"), "training forward without a random stream",
                           "set_random_stream() before forward in training mode");
      }
      detail::ensure_shape(scale_, x.shape());
      kernels::draw_mask(*rng_, p_, scale_.data(), scale_.size());
    }
    kernels::apply(x.data(), scale_.data(), y.data(), x.size());
  }

  void backward(const output_type& dy, input_type& dx) {
    detail::require_forward_done(have_forward_, name_);
    detail::check_shape(dy.shape(), shape_, name_, "dropout output gradient");
    detail::check_shape(dx.shape(), shape_, name_, "dropout input gradient");
    if (!active_) {
      detail::accumulate(dx, dy);
      return;
    }
    kernels::backward(dy.data(), scale_.data(), dx.data(), dx.size());
  }

  void set_training(bool on) { training_ = on; }
  [[nodiscard]] bool training() const { return training_; }
  [[nodiscard]] double p() const { return p_; }

 private:
  using kernels = implementation_t<detail::dropout_op, B>;
  double p_ = 0.0;
  bool training_ = true;
  bool active_ = false;
  bool use_injected_ = false;
  bool have_forward_ = false;
  std::optional<random_stream> rng_;
  std::string name_;
  typename input_type::shape_type shape_{};
  output_type scale_;         // per-element multiplier of the last forward: 0 or 1/(1-p)
  tensor<T, Rank> injected_;  // injected keep mask, pre-scaled
};

}  // namespace ecgssl::nn

#pragma once
/// \file transformer_layer.hpp
/// One transformer encoder layer (spec §3.7), post-LN (paper-era fairseq-signals, BERT style,
/// the default) or pre-LN. Dropout placement follows the paper-era code:
///   post-LN: a = drop(drop_attn(MHA(x))); h = LN1(x + a);
///            f = drop(fc2(drop_act(GELU(fc1(h))))); y = LN2(h + f)
///   pre-LN:  a = drop(drop_attn(MHA(LN1(x)))); r = x + a;
///            f = drop(fc2(drop_act(GELU(fc1(LN2(r)))))); y = r + f
/// where drop_attn is the second attention dropout that the code applies to the MHA output.
/// Layer norms use eps 1e-6 (nn.LayerNorm(..., eps=1e-6) in the paper-era layer).

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../core/tensor.hpp"
#include "detail/common.hpp"
#include "dropout.hpp"
#include "gelu.hpp"
#include "layer_norm.hpp"
#include "linear.hpp"
#include "multi_head_attention.hpp"

namespace ecgssl::nn {

/// Options of transformer_layer (defaults = BERT-base as in the paper's pre-training).
struct transformer_layer_options {
  std::size_t dim = 768;            ///< D
  std::size_t heads = 12;           ///< H
  std::size_t ffn_dim = 3072;       ///< F
  double dropout = 0.1;             ///< residual-branch dropout
  double attention_dropout = 0.1;   ///< on probabilities and on the MHA output
  double activation_dropout = 0.0;  ///< after the FFN's GELU
  bool layer_norm_first = false;    ///< false = post-LN (paper), true = pre-LN
  double layer_norm_eps = 1e-6;     ///< eps of both layer norms
  bool legacy_batch_axis = false;   ///< attention over the batch axis (paper-era bug)
};

/// x: [batch, time, dim] -> y: [batch, time, dim].
template <class T, class Backend = host>
class transformer_layer {
 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = backend_tensor_t<T, 3, Backend>;  // host: tensor; cuda: device_tensor
  using output_type = backend_tensor_t<T, 3, Backend>;

  explicit transformer_layer(transformer_layer_options options = {})
      : options_(validated(options)),
        attention_(attention_options{options.dim, options.heads, options.attention_dropout,
                                     options.legacy_batch_axis}),
        ln1_(options.dim, options.layer_norm_eps),
        ln2_(options.dim, options.layer_norm_eps),
        fc1_(linear_options{options.dim, options.ffn_dim, true, linear_init::normal, 0.02}),
        fc2_(linear_options{options.ffn_dim, options.dim, true, linear_init::normal, 0.02}),
        attn_out_drop_(options.attention_dropout),
        drop1_(options.dropout),
        drop2_(options.dropout),
        act_drop_(options.activation_dropout) {}

  [[nodiscard]] const transformer_layer_options& options() const { return options_; }
  [[nodiscard]] multi_head_attention<T, Backend>& attention() { return attention_; }
  /// The dropout sites, for tests that inject PyTorch's masks: 0 = second attention dropout
  /// (on the MHA output), 1 = dropout after attention, 2 = activation dropout, 3 = dropout
  /// after fc2.
  [[nodiscard]] dropout<T, Backend, 3>& dropout_site(int which) {
    switch (which) {
      case 0: return attn_out_drop_;
      case 1: return drop1_;
      case 2: return act_drop_;
      default: return drop2_;
    }
  }

  /// Declares self_attn.*, self_attn_layer_norm.*, fc1.*, fc2.*, final_layer_norm.* under
  /// `prefix` (e.g. "encoder.layers.3.").
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    attention_.declare_parameters(store, prefix + "self_attn.");
    ln1_.declare_parameters(store, prefix + "self_attn_layer_norm.");
    fc1_.declare_parameters(store, prefix + "fc1.");
    fc2_.declare_parameters(store, prefix + "fc2.");
    ln2_.declare_parameters(store, prefix + "final_layer_norm.");
    attn_out_drop_.declare_parameters(store, prefix + "attn_out.");
    drop1_.declare_parameters(store, prefix + "dropout1.");
    drop2_.declare_parameters(store, prefix + "dropout2.");
    act_drop_.declare_parameters(store, prefix + "activation_dropout.");
  }

  /// Spec §3.10: linears N(0, 0.02^2) with zero bias (init_bert_params), norms 1 / 0.
  void initialize(const random_stream& rng) {
    attention_.initialize(detail::child_stream(rng, 0));
    fc1_.initialize(detail::child_stream(rng, 1));
    fc2_.initialize(detail::child_stream(rng, 2));
    ln1_.initialize(rng);
    ln2_.initialize(rng);
  }

  void set_training(bool training) {
    attention_.set_training(training);
    for (int i = 0; i < 4; ++i) dropout_site(i).set_training(training);
  }
  /// The stream this forward's dropout masks derive from (a child per site).
  void set_random_stream(const random_stream& rng) {
    attention_.set_random_stream(detail::child_stream(rng, 0));
    for (int i = 0; i < 4; ++i) dropout_site(i).set_random_stream(detail::child_stream(rng, 1 + static_cast<std::uint64_t>(i)));
  }
  void set_key_padding_mask(const tensor<std::uint8_t, 2>& mask) { attention_.set_key_padding_mask(mask); }

  // x: [batch, time, dim] -> y: [batch, time, dim]
  void forward(const input_type& x, output_type& y) {
    detail::require_extent(x.shape()[2], options_.dim, std::string("transformer_layer."), "input", "last axis");
    shape_ = x.shape();
    if (!options_.layer_norm_first) {
      attention_.forward(x, a_);
      attn_out_drop_.forward(a_, a1_);
      drop1_.forward(a1_, a_);
      add(x, a_, r_);
      ln1_.forward(r_, h_);
      feed_forward(h_);  // f_ <- FFN(h)
      add(h_, f_, r_);
      ln2_.forward(r_, y);
    } else {
      ln1_.forward(x, n_);
      attention_.forward(n_, a_);
      attn_out_drop_.forward(a_, a1_);
      drop1_.forward(a1_, a_);
      add(x, a_, h_);  // r = x + a
      ln2_.forward(h_, n_);
      feed_forward(n_);
      add(h_, f_, y);
    }
  }

  // dy: [batch, time, dim]; accumulates dx and every parameter gradient.
  void backward(const output_type& dy, input_type& dx) {
    require_shape(dy.shape(), shape_, "transformer_layer.output_grad");
    require_shape(dx.shape(), shape_, "transformer_layer.input_grad");
    if (!options_.layer_norm_first) {
      detail::zero_like(g_r_, shape_);
      ln2_.backward(dy, g_r_);          // d(h + f)
      detail::copy_into(g_h_, g_r_);    // residual path into h
      feed_forward_backward(g_r_, g_h_);
      detail::zero_like(g_r_, shape_);
      ln1_.backward(g_h_, g_r_);        // d(x + a)
      accumulate(dx, g_r_);
      attention_input_grad(g_r_, dx);
    } else {
      detail::copy_into(g_h_, dy);      // d r (residual path)
      detail::zero_like(g_r_, shape_);
      feed_forward_backward(dy, g_r_);  // d LN2(r)
      ln2_.backward(g_r_, g_h_);
      accumulate(dx, g_h_);
      detail::zero_like(g_n_, shape_);
      attention_input_grad(g_h_, g_n_);
      ln1_.backward(g_n_, dx);
    }
  }

 private:
  static transformer_layer_options validated(const transformer_layer_options& o) {
    if (o.ffn_dim == 0) throw config_error(at_field("transformer_layer.ffn_dim"), "zero width", "ffn_dim > 0");
    return o;
  }
  using activation = backend_tensor_t<T, 3, Backend>;
  static void add(const activation& a, const activation& b, activation& out) {
    if constexpr (std::is_same_v<Backend, host>) {
      detail::ensure_shape(out, a.shape());
      for (std::size_t i = 0; i < a.size(); ++i) out.data()[i] = a.data()[i] + b.data()[i];
    } else {
      detail::copy_into(out, a);
      detail::accumulate(out, b);
    }
  }
  static void accumulate(activation& dst, const activation& src) {
    if constexpr (std::is_same_v<Backend, host>) {
      for (std::size_t i = 0; i < dst.size(); ++i) dst.data()[i] += src.data()[i];
    } else {
      detail::accumulate(dst, src);
    }
  }

  // f_ <- drop2(fc2(act_drop(GELU(fc1(in)))))
  void feed_forward(const activation& in) {
    fc1_.forward(in, f1_);
    gelu_.forward(f1_, g_);
    act_drop_.forward(g_, f1_);
    fc2_.forward(f1_, f2_);
    drop2_.forward(f2_, f_);
  }
  // Given d(FFN output), accumulates d(FFN input) into din and the FFN parameter gradients.
  void feed_forward_backward(const activation& dout, activation& din) {
    detail::zero_like(g_f2_, shape_);
    drop2_.backward(dout, g_f2_);
    detail::zero_like(g_wide_a_, f1_.shape());
    fc2_.backward(g_f2_, g_wide_a_);
    detail::zero_like(g_wide_b_, f1_.shape());
    act_drop_.backward(g_wide_a_, g_wide_b_);
    detail::zero_like(g_wide_a_, f1_.shape());
    gelu_.backward(g_wide_b_, g_wide_a_);
    fc1_.backward(g_wide_a_, din);
  }
  // Accumulates into dx the gradient of x through a = drop1(drop_attn(MHA(x))), given da.
  void attention_input_grad(const activation& da, activation& dx) {
    detail::zero_like(g_f2_, shape_);
    drop1_.backward(da, g_f2_);
    detail::zero_like(g_n_a_, shape_);
    attn_out_drop_.backward(g_f2_, g_n_a_);
    attention_.backward(g_n_a_, dx);
  }

  transformer_layer_options options_;
  multi_head_attention<T, Backend> attention_;
  layer_norm<T, Backend, 3> ln1_, ln2_;
  linear<T, Backend, 3> fc1_, fc2_;
  gelu<T, Backend, 3> gelu_;
  dropout<T, Backend, 3> attn_out_drop_, drop1_, drop2_, act_drop_;
  std::array<std::size_t, 3> shape_{};
  activation a_, a1_, r_, h_, n_, f_, f1_, g_, f2_;
  activation g_r_, g_h_, g_n_, g_n_a_, g_f2_, g_wide_a_, g_wide_b_;
};

}  // namespace ecgssl::nn

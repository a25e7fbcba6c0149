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

/// The buffers a transformer layer needs only while its own forward or backward runs. A stack of
/// layers shares one (ecg_transformer does), so they exist once, not once per layer: for the
/// base encoder that is 11 x 13 activations of [batch, time, dim] less (issue 17).
template <class T, class Backend = host>
struct transformer_layer_workspace {
  using activation = backend_tensor_t<T, 3, Backend>;
  // forward: the attention branch, GELU's output before activation dropout, the FFN branch
  activation attention, attention_dropped, gelu_out, fc2_out, ffn;
  // backward
  activation d_sum, d_residual, d_norm, d_attention, d_narrow, d_wide_a, d_wide_b;
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

  using workspace_type = transformer_layer_workspace<T, Backend>;

  // x: [batch, time, dim] -> y: [batch, time, dim]. Backward reads x where it lives (the
  // attention's projections and, pre-LN, LN1 keep no copy): keep x alive and unchanged until then.
  void forward(const input_type& x, output_type& y) { forward(x, y, own_workspace_); }
  // dy: [batch, time, dim]; accumulates dx and every parameter gradient.
  void backward(const output_type& dy, input_type& dx) { backward(dy, dx, own_workspace_); }

  /// The same, with the short-lived buffers in `ws`: a stack of layers that shares one workspace
  /// holds them once instead of once per layer.
  void forward(const input_type& x, output_type& y, workspace_type& ws) {
    detail::require_extent(x.shape()[2], options_.dim, std::string("transformer_layer."), "input", "last axis");
    shape_ = x.shape();
    if (!options_.layer_norm_first) {
      attention_branch(x, ws);  // ws.attention <- a
      add(x, ws.attention, sum1_);
      ln1_.forward(sum1_, norm1_);
      feed_forward(norm1_, ws);  // ws.ffn <- f
      add(norm1_, ws.ffn, sum2_);
      ln2_.forward(sum2_, y);
    } else {
      ln1_.forward(x, norm1_);
      attention_branch(norm1_, ws);
      add(x, ws.attention, sum1_);  // r = x + a
      ln2_.forward(sum1_, norm2_);
      feed_forward(norm2_, ws);
      add(sum1_, ws.ffn, y);
    }
  }

  void backward(const output_type& dy, input_type& dx, workspace_type& ws) {
    require_shape(dy.shape(), shape_, "transformer_layer.output_grad");
    require_shape(dx.shape(), shape_, "transformer_layer.input_grad");
    if (!options_.layer_norm_first) {
      detail::zero_like(ws.d_sum, shape_);
      ln2_.backward(dy, ws.d_sum);               // d(h + f)
      detail::copy_into(ws.d_residual, ws.d_sum);  // residual path into h
      feed_forward_backward(ws.d_sum, ws.d_residual, ws);
      detail::zero_like(ws.d_sum, shape_);
      ln1_.backward(ws.d_residual, ws.d_sum);    // d(x + a)
      accumulate(dx, ws.d_sum);
      attention_input_grad(ws.d_sum, dx, ws);
    } else {
      detail::copy_into(ws.d_residual, dy);      // d r (residual path)
      detail::zero_like(ws.d_sum, shape_);
      feed_forward_backward(dy, ws.d_sum, ws);   // d LN2(r)
      ln2_.backward(ws.d_sum, ws.d_residual);
      accumulate(dx, ws.d_residual);
      detail::zero_like(ws.d_norm, shape_);
      attention_input_grad(ws.d_residual, ws.d_norm, ws);
      ln1_.backward(ws.d_norm, dx);
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

  // ws.attention <- drop1(drop_attn(MHA(in)))
  void attention_branch(const activation& in, workspace_type& ws) {
    attention_.forward(in, ws.attention);
    attn_out_drop_.forward(ws.attention, ws.attention_dropped);
    drop1_.forward(ws.attention_dropped, ws.attention);
  }
  // ws.ffn <- drop2(fc2(act_drop(GELU(fc1(in))))). Kept for backward: fc1's output (GELU's
  // input) and fc2's input; with no activation dropout those are the only two wide tensors.
  void feed_forward(const activation& in, workspace_type& ws) {
    fc1_.forward(in, fc1_out_);
    if (options_.activation_dropout == 0.0) {
      gelu_.forward(fc1_out_, fc2_in_);  // act_drop is the identity: skip its copy
    } else {
      gelu_.forward(fc1_out_, ws.gelu_out);
      act_drop_.forward(ws.gelu_out, fc2_in_);
    }
    fc2_.forward(fc2_in_, ws.fc2_out);
    drop2_.forward(ws.fc2_out, ws.ffn);
  }
  // Given d(FFN output), accumulates d(FFN input) into din and the FFN parameter gradients.
  void feed_forward_backward(const activation& dout, activation& din, workspace_type& ws) {
    detail::zero_like(ws.d_narrow, shape_);
    drop2_.backward(dout, ws.d_narrow);
    detail::zero_like(ws.d_wide_a, fc1_out_.shape());
    fc2_.backward(ws.d_narrow, ws.d_wide_a);
    activation* d_gelu_out = &ws.d_wide_a;
    if (options_.activation_dropout != 0.0) {
      detail::zero_like(ws.d_wide_b, fc1_out_.shape());
      act_drop_.backward(ws.d_wide_a, ws.d_wide_b);
      d_gelu_out = &ws.d_wide_b;
    }
    activation& d_fc1_out = d_gelu_out == &ws.d_wide_a ? ws.d_wide_b : ws.d_wide_a;
    detail::zero_like(d_fc1_out, fc1_out_.shape());
    gelu_.backward(*d_gelu_out, d_fc1_out);
    fc1_.backward(d_fc1_out, din);
  }
  // Accumulates into dx the gradient of x through a = drop1(drop_attn(MHA(x))), given da.
  void attention_input_grad(const activation& da, activation& dx, workspace_type& ws) {
    detail::zero_like(ws.d_narrow, shape_);
    drop1_.backward(da, ws.d_narrow);
    detail::zero_like(ws.d_attention, shape_);
    attn_out_drop_.backward(ws.d_narrow, ws.d_attention);
    attention_.backward(ws.d_attention, dx);
  }

  transformer_layer_options options_;
  multi_head_attention<T, Backend> attention_;
  layer_norm<T, Backend, 3> ln1_, ln2_;
  linear<T, Backend, 3> fc1_, fc2_;
  gelu<T, Backend, 3> gelu_;
  dropout<T, Backend, 3> attn_out_drop_, drop1_, drop2_, act_drop_;
  std::array<std::size_t, 3> shape_{};
  // What backward reads, one buffer each (the layers keep no copies). post-LN: sum1 = x + a,
  // norm1 = LN1(sum1), sum2 = norm1 + f. pre-LN: norm1 = LN1(x), sum1 = x + a, norm2 = LN2(sum1).
  activation sum1_, norm1_, sum2_, norm2_, fc1_out_, fc2_in_;
  workspace_type own_workspace_;  // used by the two-argument forward and backward
};

}  // namespace ecgssl::nn

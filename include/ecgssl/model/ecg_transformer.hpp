#pragma once
/// \file ecg_transformer.hpp
/// The wav2vec 2.0-style ECG encoder of W2V+CMSC+RLM (spec §3.3-§3.9) with its pre-training
/// heads:
///   x: [B, leads, samples] -> conv feature extractor -> z: [B, C, T] (feature penalty)
///   -> grad_scale(feature_grad_mult) -> LayerNorm(C) -> (quantizer input: dropout_features)
///   -> post_extract_proj (C != D only) -> dropout_input -> span mask (mask_emb)
///   -> h + pos_conv(h) -> LayerNorm(D) -> dropout -> L transformer layers -> encoded [B, T, D]
///   predictions = final_proj(encoded at masked frames), targets = project_q(quantizer(...)).
/// Parameter names follow the fairseq-signals state dict (spec §3.11).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
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
#include "../nn/conv1d.hpp"
#include "../nn/detail/common.hpp"
#include "../nn/dropout.hpp"
#include "../nn/gelu.hpp"
#include "../nn/group_norm.hpp"
#include "../nn/gumbel_quantizer.hpp"
#include "../nn/layer_norm.hpp"
#include "../nn/linear.hpp"
#include "../nn/pos_conv.hpp"
#include "../nn/span_mask.hpp"
#include "../nn/transformer_layer.hpp"
#include "configs.hpp"
#include "detail/encoder_layout_kernels.hpp"

namespace ecgssl::model {

/// Gradients of an objective with respect to an ecg_transformer's outputs (its `gradients`); an
/// empty tensor counts as zero. One type per scalar and backend, whatever the encoder's
/// configuration, so an objective can keep one across micro-batches (on cuda a fresh one would
/// allocate device memory every step).
template <class T, class B>
struct encoder_gradients {
  backend_tensor_t<T, 2, B> predictions;
  backend_tensor_t<T, 2, B> targets;
  backend_tensor_t<T, 3, B> features;
  backend_tensor_t<T, 3, B> encoded;
  T prob_perplexity = T(0);
};

/// The encoder of spec §3. `Config` provides scalar_type, backend_type and options()
/// (configs.hpp); the options can be overridden at construction. Activations, outputs and
/// gradients are `backend_tensor_t<T, N, backend_type>` (host: tensor; cuda: device_tensor,
/// with <ecgssl/cuda/...> kernels included by the .cu translation unit); the span mask and
/// the masked rows are host data on every backend (the mask is drawn on the host).
template <class Config>
class ecg_transformer {
 public:
  using scalar_type = typename Config::scalar_type;
  using backend_type = typename Config::backend_type;
  using T = scalar_type;
  using B = backend_type;
  template <std::size_t N>
  using activation = backend_tensor_t<T, N, B>;
  using input_type = activation<3>;   // [batch, leads, samples]
  using output_type = activation<3>;  // [batch, frames, D]

  /// What one forward produces (valid until the next forward).
  struct outputs {
    activation<3> features;                ///< z: [B, C, T], raw conv output (feature penalty)
    activation<3> encoded;                 ///< [B, T, D], transformer output (CMSC pooling)
    tensor<std::uint8_t, 2> mask;          ///< [B, T], 1 = masked
    std::vector<std::size_t> masked_rows;  ///< b*T + t of each head row (b-major, t ascending)
    std::size_t masked_per_sample = 0;     ///< M when every sample has M masked frames, else 0
    /// The quantizer's choice for each head row as one number, sum over groups g of
    /// code_g * V^(G-1-g) (host, every backend): two rows have equal targets exactly when these
    /// are equal, which identical_negatives::by_code uses.
    std::vector<std::int64_t> target_codes;
    activation<2> predictions;             ///< final_proj at masked frames: [rows, final_dim]
    activation<2> targets;                 ///< project_q(quantized): [rows, final_dim]
    double prob_perplexity = 0.0;
    double code_perplexity = 0.0;
    double temperature = 0.0;
  };

  /// Gradients of the objective with respect to the outputs; an empty tensor counts as zero.
  using gradients = encoder_gradients<T, B>;

  explicit ecg_transformer(ecg_transformer_options options = Config::options())
      : options_(validated(options)),
        span_({.dim = options.embed_dim, .mask_prob = options.mask_prob,
               .mask_length = options.mask_length, .min_masks = options.min_masks}),
        pos_conv_({.dim = options.embed_dim, .kernel = options.pos_kernel, .groups = options.pos_groups}),
        quantizer_({.input_dim = options.conv_dim, .groups = options.latent_groups,
                    .codes = options.latent_vars, .vq_dim = options.final_dim,
                    .max_temp = options.max_temp, .min_temp = options.min_temp,
                    .temp_decay = options.temp_decay}) {
    const auto& o = options_;
    for (std::size_t i = 0; i < o.conv_layers; ++i) {
      convs_.emplace_back(nn::conv1d_options{.in_channels = i == 0 ? o.in_channels : o.conv_dim,
                                             .out_channels = o.conv_dim, .kernel = o.conv_kernel,
                                             .stride = o.conv_stride, .bias = false});
      if (o.mode == extractor_mode::layer_norm) conv_norms_.emplace_back(o.conv_dim, 1e-5);
    }
    conv_gelus_.resize(o.conv_layers);
    conv_out_.resize(o.conv_layers);
    norm_out_.resize(o.conv_layers);
    act_.resize(o.conv_layers);
    if (o.mode == extractor_mode::group_norm_first) group_norm_ = nn::group_norm<T, B>(o.conv_dim, o.conv_dim, 1e-5);
    feature_norm_ = nn::layer_norm<T, B, 3>(o.conv_dim, 1e-5);
    if (o.conv_dim != o.embed_dim) {
      post_proj_ = std::make_unique<nn::linear<T, B, 3>>(nn::linear_options{o.conv_dim, o.embed_dim});
    }
    dropout_input_ = nn::dropout<T, B, 3>(o.dropout_input);
    dropout_features_ = nn::dropout<T, B, 3>(o.dropout_features);
    encoder_dropout_ = nn::dropout<T, B, 3>(o.dropout);
    encoder_norm_ = nn::layer_norm<T, B, 3>(o.embed_dim, 1e-5);
    for (std::size_t l = 0; l < o.layers; ++l) {
      layers_.emplace_back(nn::transformer_layer_options{
          .dim = o.embed_dim, .heads = o.heads, .ffn_dim = o.ffn_dim, .dropout = o.dropout,
          .attention_dropout = o.attention_dropout, .activation_dropout = o.activation_dropout,
          .layer_norm_first = o.layer_norm_first, .layer_norm_eps = 1e-6,
          .legacy_batch_axis = o.legacy_batch_axis});
    }
    layer_io_.resize(o.layers + 1);
    project_q_ = nn::linear<T, B, 2>(nn::linear_options{o.final_dim, o.final_dim});
    final_proj_ = nn::linear<T, B, 2>(nn::linear_options{o.embed_dim, o.final_dim});
    set_step(0, 0);
  }

  [[nodiscard]] const ecg_transformer_options& options() const { return options_; }

  /// Called during each backward, after each transformer layer, with an offset into the
  /// parameter store this model declared into: every gradient at that offset or after it is
  /// complete for this backward (the layers and heads are declared last and run backward first).
  /// Data-parallel training starts summing those gradients over the ranks while the rest of
  /// backward runs. An empty function (the default) turns it off.
  void set_backward_progress(std::function<void(std::size_t)> gradients_final_from) {
    backward_progress_ = std::move(gradients_final_from);
  }

  /// Declares every tensor under `prefix` with the fairseq-signals names (spec §3.11).
  void declare_parameters(parameter_store<T>& store, const std::string& prefix = "") {
    const auto& o = options_;
    for (std::size_t i = 0; i < o.conv_layers; ++i) {
      const std::string block = prefix + "feature_extractor.conv_layers." + std::to_string(i) + ".";
      convs_[i].declare_parameters(store, block + "0.");
      if (o.mode == extractor_mode::layer_norm) conv_norms_[i].declare_parameters(store, block + "2.");
      if (o.mode == extractor_mode::group_norm_first && i == 0) group_norm_.declare_parameters(store, block + "2.");
    }
    feature_norm_.declare_parameters(store, prefix + "layer_norm.");
    if (post_proj_) post_proj_->declare_parameters(store, prefix + "post_extract_proj.");
    if (o.pretraining_heads) span_.declare_parameters(store, prefix);
    pos_conv_.declare_parameters(store, prefix + "encoder.pos_conv.0.");
    encoder_norm_.declare_parameters(store, prefix + "encoder.layer_norm.");
    layer_offsets_.assign(o.layers, 0);
    for (std::size_t l = 0; l < o.layers; ++l) {
      layer_offsets_[l] = store.size();
      layers_[l].declare_parameters(store, prefix + "encoder.layers." + std::to_string(l) + ".");
    }
    if (o.pretraining_heads) {
      quantizer_.declare_parameters(store, prefix + "quantizer.");
      project_q_.declare_parameters(store, prefix + "project_q.");
      final_proj_.declare_parameters(store, prefix + "final_proj.");
    }
  }

  /// Initial values of spec §3.10, every tensor from its own child of `rng`.
  void initialize(const random_stream& rng) {
    const auto& o = options_;
    for (std::size_t i = 0; i < o.conv_layers; ++i) {
      convs_[i].initialize(nn::detail::child_stream(rng, 100 + i));
      if (o.mode == extractor_mode::layer_norm) conv_norms_[i].initialize(rng);
    }
    if (o.mode == extractor_mode::group_norm_first) group_norm_.initialize(rng);
    feature_norm_.initialize(rng);
    if (post_proj_) post_proj_->initialize(nn::detail::child_stream(rng, 1));
    if (o.pretraining_heads) span_.initialize(nn::detail::child_stream(rng, 2));
    pos_conv_.initialize(nn::detail::child_stream(rng, 3));
    encoder_norm_.initialize(rng);
    for (std::size_t l = 0; l < o.layers; ++l) layers_[l].initialize(nn::detail::child_stream(rng, 200 + l));
    if (o.pretraining_heads) {
      quantizer_.initialize(nn::detail::child_stream(rng, 4));
      project_q_.initialize(nn::detail::child_stream(rng, 5));
      final_proj_.initialize(nn::detail::child_stream(rng, 6));
    }
  }

  void set_training(bool training) {
    training_ = training;
    dropout_input_.set_training(training);
    dropout_features_.set_training(training);
    encoder_dropout_.set_training(training);
    span_.set_training(training);
    for (auto& layer : layers_) layer.set_training(training);
    quantizer_.set_training(training);
  }

  /// Seeds every random draw of the next forward (dropout, span mask, Gumbel noise) from
  /// (seed, step): one call per optimizer step.
  void set_step(std::uint64_t seed, std::uint64_t step) {
    const random_stream drop(seed, stream_id({static_cast<std::uint64_t>(rng_purpose::dropout), step}));
    dropout_input_.set_random_stream(nn::detail::child_stream(drop, 1));
    dropout_features_.set_random_stream(nn::detail::child_stream(drop, 2));
    encoder_dropout_.set_random_stream(nn::detail::child_stream(drop, 3));
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      layers_[l].set_random_stream(nn::detail::child_stream(drop, 100 + l));
    }
    span_.set_random_stream(random_stream(seed, stream_id({static_cast<std::uint64_t>(rng_purpose::span_mask), step})));
    quantizer_.set_random_stream(random_stream(seed, stream_id({static_cast<std::uint64_t>(rng_purpose::gumbel), step})));
  }
  /// Number of optimizer updates so far (quantizer temperature, spec §3.8).
  void set_num_updates(std::int64_t updates) { quantizer_.set_num_updates(updates); }
  /// Uses an explicit span mask [B, T] (1 = masked) in training until clear_mask().
  void set_mask(const tensor<std::uint8_t, 2>& mask) { span_.set_mask(mask); }
  void clear_mask() { span_.clear_mask(); }

  // Access for tests that inject PyTorch's random draws.
  nn::gumbel_quantizer<T, B>& quantizer() { return quantizer_; }
  nn::transformer_layer<T, B>& layer(std::size_t i) { return layers_.at(i); }
  nn::dropout<T, B, 3>& dropout_input() { return dropout_input_; }
  nn::dropout<T, B, 3>& dropout_features() { return dropout_features_; }
  nn::dropout<T, B, 3>& encoder_dropout() { return encoder_dropout_; }

  /// Number of frames the extractor makes of `samples` input samples (156 for 2500).
  [[nodiscard]] std::size_t frames(std::size_t samples) const {
    std::size_t t = samples;
    for (std::size_t i = 0; i < options_.conv_layers; ++i) {
      if (t < options_.conv_kernel) return 0;
      t = (t - options_.conv_kernel) / options_.conv_stride + 1;
    }
    return t;
  }

  /// x: [batch, leads, samples]. Masks (training, apply_mask, heads) and runs the heads on the
  /// masked frames.
  const outputs& forward(const input_type& x) {
    const auto& o = options_;
    detail_require(x);
    // conv feature extractor: [B, C_in, L] -> [B, C, T]
    // The layers read their inputs where they live at backward; the caller's x need not outlive
    // this call, so the first convolution reads the model's own copy.
    nn::detail::copy_into(input_, x);
    const activation<3>* cur = &input_;
    norm_in_.resize(o.conv_layers);
    for (std::size_t i = 0; i < o.conv_layers; ++i) {
      convs_[i].forward(*cur, conv_out_[i]);
      const activation<3>* normed = &conv_out_[i];
      if (o.mode == extractor_mode::group_norm_first && i == 0) {
        group_norm_.forward(conv_out_[i], norm_out_[i]);
        normed = &norm_out_[i];
      } else if (o.mode == extractor_mode::layer_norm) {
        transpose12(conv_out_[i], norm_in_[i]);
        conv_norms_[i].forward(norm_in_[i], scratch_b_);
        transpose12(scratch_b_, norm_out_[i]);
        normed = &norm_out_[i];
      }
      conv_gelus_[i].forward(*normed, act_[i]);
      cur = &act_[i];
    }
    nn::detail::copy_into(out_.features, *cur);
    batch_ = x.shape()[0];
    samples_ = x.shape()[2];
    frames_ = out_.features.shape()[2];
    transpose12(out_.features, features_t_);  // [B, T, C]
    feature_norm_.forward(features_t_, normed_);
    if (o.pretraining_heads) dropout_features_.forward(normed_, unmasked_);
    if (post_proj_) {
      post_proj_->forward(normed_, h0_);
      dropout_input_.forward(h0_, h1_);
    } else {
      dropout_input_.forward(normed_, h1_);
    }
    masking_ = training_ && o.apply_mask && o.pretraining_heads;
    if (masking_) {
      span_.forward(h1_, h2_);
      out_.mask = span_.mask();
    } else {
      nn::detail::copy_into(h2_, h1_);
      out_.mask = xt::zeros<std::uint8_t>({batch_, frames_});
    }
    pos_conv_.forward(h2_, pos_);
    nn::detail::accumulate(pos_, h2_);  // h + pos
    if (!o.layer_norm_first) {
      encoder_norm_.forward(pos_, h3_);
      encoder_dropout_.forward(h3_, layer_io_[0]);
    } else {
      encoder_dropout_.forward(pos_, layer_io_[0]);
    }
    for (std::size_t l = 0; l < o.layers; ++l) layers_[l].forward(layer_io_[l], layer_io_[l + 1], layer_workspace_);
    if (o.layer_norm_first) {
      encoder_norm_.forward(layer_io_[o.layers], out_.encoded);
    } else {
      nn::detail::copy_into(out_.encoded, layer_io_[o.layers]);
    }
    run_heads();
    return out_;
  }

  /// Accumulates every parameter gradient for the given output gradients (the input gradient
  /// is not needed by any objective and is not computed).
  void backward(const gradients& g) {
    backward_impl({&g.predictions, &g.targets, &g.features, &g.encoded, g.prob_perplexity}, nullptr);
  }

  /// Layer-concept forward: y = encoded.
  void forward(const input_type& x, output_type& y) {
    forward(x);
    nn::detail::copy_into(y, out_.encoded);
  }
  /// Layer-concept backward: dy = d encoded; accumulates dx.
  void backward(const output_type& dy, input_type& dx) { backward_impl({nullptr, nullptr, nullptr, &dy, T(0)}, &dx); }

  [[nodiscard]] const outputs& last_outputs() const { return out_; }

 private:
  static ecg_transformer_options validated(const ecg_transformer_options& o) {
    if (o.conv_layers == 0 || o.conv_kernel == 0 || o.conv_stride == 0) {
      throw config_error(at_field("ecg_transformer.conv_layers"), "empty conv extractor",
                         "conv_layers, conv_kernel, conv_stride > 0");
    }
    return o;
  }

  void detail_require(const input_type& x) const {
    if (x.shape()[1] != options_.in_channels) {
      throw shape_error(at_field("ecg_transformer.input"), "got shape " + shape_string(x.shape()),
                        "[batch, " + std::to_string(options_.in_channels) + ", samples]");
    }
    if (frames(x.shape()[2]) == 0) {
      throw shape_error(at_field("ecg_transformer.input"),
                        std::to_string(x.shape()[2]) + " samples give no frame", "a longer input");
    }
    if (x.shape()[0] == 0) throw shape_error(at_field("ecg_transformer.input"), "empty batch", "batch > 0");
  }

  using layout = implementation_t<detail::encoder_layout_op, B>;

  // out: [a, c, b] <- in: [a, b, c]
  static void transpose12(const activation<3>& in, activation<3>& out) {
    const auto a = in.shape()[0], b = in.shape()[1], c = in.shape()[2];
    nn::detail::ensure_shape(out, std::array<std::size_t, 3>{a, c, b});
    layout::template swap_last_axes<false>(in.data(), out.data(), a, b, c);
  }
  // out: [a, b, c] += in: [a, c, b]
  static void add_transposed(const activation<3>& in, activation<3>& out) {
    const auto a = out.shape()[0], b = out.shape()[1], c = out.shape()[2];
    layout::template swap_last_axes<true>(in.data(), out.data(), a, c, b);
  }

  // Where the kernels read the masked rows: the host vector itself, or its device copy.
  const std::size_t* masked_rows_where_computed() {
    if constexpr (std::is_same_v<B, host>) {
      return out_.masked_rows.data();
    } else {
      masked_rows_device_.resize(out_.masked_rows.size());
      masked_rows_device_.copy_from_host(std::span<const std::size_t>(out_.masked_rows));
      return masked_rows_device_.data();
    }
  }

  void run_heads() {
    const auto& o = options_;
    out_.masked_rows.clear();
    out_.target_codes.clear();
    out_.masked_per_sample = 0;
    const std::array<std::size_t, 2> no_rows{0, o.final_dim};
    if (!masking_) {
      nn::detail::ensure_shape(out_.predictions, no_rows);
      nn::detail::ensure_shape(out_.targets, no_rows);
      return;
    }
    std::size_t first = 0;
    bool equal = true;
    for (std::size_t b = 0; b < batch_; ++b) {
      std::size_t count = 0;
      for (std::size_t t = 0; t < frames_; ++t) {
        if (out_.mask(b, t)) {
          out_.masked_rows.push_back(b * frames_ + t);
          ++count;
        }
      }
      if (b == 0) first = count;
      equal = equal && count == first;
    }
    out_.masked_per_sample = equal ? first : 0;
    const std::size_t rows = out_.masked_rows.size();
    if (rows == 0) {
      nn::detail::ensure_shape(out_.predictions, no_rows);
      nn::detail::ensure_shape(out_.targets, no_rows);
      return;
    }
    masked_rows_ = masked_rows_where_computed();
    gather(out_.encoded, enc_masked_);
    final_proj_.forward(enc_masked_, out_.predictions);
    gather(unmasked_, quant_in_);
    quantizer_.forward(quant_in_, quantized_);
    project_q_.forward(quantized_, out_.targets);
    const auto& codes = quantizer_.codes();  // [rows * G]
    out_.target_codes.resize(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      std::int64_t joint = 0;
      for (std::size_t g = 0; g < o.latent_groups; ++g) {
        joint = joint * static_cast<std::int64_t>(o.latent_vars) + codes[r * o.latent_groups + g];
      }
      out_.target_codes[r] = joint;
    }
    out_.prob_perplexity = quantizer_.prob_perplexity();
    out_.code_perplexity = quantizer_.code_perplexity();
    out_.temperature = quantizer_.temperature();
  }

  // rows of src: [B, T, W] at masked_rows -> dst: [rows, W]
  void gather(const activation<3>& src, activation<2>& dst) const {
    const auto w = src.shape()[2];
    const auto rows = out_.masked_rows.size();
    nn::detail::ensure_shape(dst, std::array<std::size_t, 2>{rows, w});
    layout::gather_rows(src.data(), masked_rows_, rows, w, dst.data());
  }
  void scatter_add(const activation<2>& src, activation<3>& dst) const {
    layout::scatter_add_rows(src.data(), masked_rows_, out_.masked_rows.size(), dst.shape()[2], dst.data());
  }

  // The output gradients of one backward; a null or empty tensor counts as zero.
  struct gradient_refs {
    const activation<2>* predictions;
    const activation<2>* targets;
    const activation<3>* features;
    const activation<3>* encoded;
    T prob_perplexity;
  };
  template <class Gradient>
  static bool present(const Gradient* g) {
    return g != nullptr && g->size() != 0;
  }

  void backward_impl(const gradient_refs& g, input_type* dx) {
    const auto& o = options_;
    const std::array<std::size_t, 3> enc_shape{batch_, frames_, o.embed_dim};
    const std::array<std::size_t, 3> feat_shape{batch_, frames_, o.conv_dim};
    if (present(g.encoded)) {
      require_shape(g.encoded->shape(), enc_shape, "ecg_transformer.encoded_grad");
      nn::detail::copy_into(d_enc_, *g.encoded);
    } else {
      nn::detail::zero_like(d_enc_, enc_shape);
    }
    nn::detail::zero_like(d_unmasked_, feat_shape);
    const std::size_t rows = out_.masked_rows.size();
    const bool head_grads =
        rows > 0 && (present(g.predictions) || present(g.targets) || g.prob_perplexity != T(0));
    if (head_grads) {
      const std::array<std::size_t, 2> head_shape{rows, o.final_dim};
      if (present(g.predictions)) {
        require_shape(g.predictions->shape(), head_shape, "ecg_transformer.predictions_grad");
        nn::detail::zero_like(d_rows_, enc_masked_.shape());
        final_proj_.backward(*g.predictions, d_rows_);
        scatter_add(d_rows_, d_enc_);
      }
      nn::detail::zero_like(d_quantized_, quantized_.shape());
      if (present(g.targets)) {
        require_shape(g.targets->shape(), head_shape, "ecg_transformer.targets_grad");
        project_q_.backward(*g.targets, d_quantized_);
      }
      nn::detail::zero_like(d_rows_, quant_in_.shape());
      quantizer_.backward(d_quantized_, g.prob_perplexity, d_rows_);
      scatter_add(d_rows_, d_unmasked_);
    }
    // transformer stack
    activation<3>* d_cur = &d_enc_;
    if (o.layer_norm_first) {
      nn::detail::zero_like(d_a_, enc_shape);
      encoder_norm_.backward(d_enc_, d_a_);
      d_cur = &d_a_;
    }
    for (std::size_t l = o.layers; l-- > 0;) {
      activation<3>& d_next = (d_cur == &d_a_) ? d_b_ : d_a_;
      nn::detail::zero_like(d_next, enc_shape);
      layers_[l].backward(*d_cur, d_next, layer_workspace_);
      d_cur = &d_next;
      if (backward_progress_ && l < layer_offsets_.size()) backward_progress_(layer_offsets_[l]);
    }
    activation<3>& d_pos = (d_cur == &d_a_) ? d_b_ : d_a_;  // d (h + pos)
    nn::detail::zero_like(d_pos, enc_shape);
    if (!o.layer_norm_first) {
      nn::detail::zero_like(d_c_, enc_shape);
      encoder_dropout_.backward(*d_cur, d_c_);
      encoder_norm_.backward(d_c_, d_pos);
    } else {
      encoder_dropout_.backward(*d_cur, d_pos);
    }
    // h2 receives the residual path and the positional convolution's input gradient
    nn::detail::copy_into(d_c_, d_pos);
    pos_conv_.backward(d_pos, d_c_);
    nn::detail::zero_like(d_pos, enc_shape);  // now d h1
    if (masking_) {
      span_.backward(d_c_, d_pos);
    } else {
      nn::detail::accumulate(d_pos, d_c_);
    }
    nn::detail::zero_like(d_norm_, feat_shape);  // d LayerNorm(C) output
    if (post_proj_) {
      nn::detail::zero_like(d_c_, enc_shape);
      dropout_input_.backward(d_pos, d_c_);
      post_proj_->backward(d_c_, d_norm_);
    } else {
      dropout_input_.backward(d_pos, d_norm_);
    }
    if (o.pretraining_heads) dropout_features_.backward(d_unmasked_, d_norm_);
    nn::detail::zero_like(d_feat_t_, feat_shape);
    feature_norm_.backward(d_norm_, d_feat_t_);
    // z: [B, C, T] gradient = transposed LN input gradient + the feature-penalty gradient,
    // then GradMultiply
    nn::detail::zero_like(d_z_, out_.features.shape());
    add_transposed(d_feat_t_, d_z_);
    if (present(g.features)) {
      require_shape(g.features->shape(), out_.features.shape(), "ecg_transformer.features_grad");
      nn::detail::accumulate(d_z_, *g.features);
    }
    const T factor = static_cast<T>(o.feature_grad_mult);
    if (factor == T(0) && dx == nullptr) return;  // frozen extractor
    layout::scale(d_z_.data(), d_z_.size(), factor);
    // per-block buffers keep their shapes from step to step (no reallocation, no page faults)
    d_blocks_.resize(o.conv_layers);
    d_norm_blocks_.resize(o.conv_layers);
    d_conv_blocks_.resize(o.conv_layers);
    const activation<3>* d_act = &d_z_;
    for (std::size_t i = o.conv_layers; i-- > 0;) {
      activation<3>& d_norm_out = d_norm_blocks_[i];
      nn::detail::zero_like(d_norm_out, conv_out_[i].shape());
      conv_gelus_[i].backward(*d_act, d_norm_out);
      activation<3>* d_conv = &d_norm_out;
      if (o.mode == extractor_mode::group_norm_first && i == 0) {
        nn::detail::zero_like(d_conv_blocks_[i], conv_out_[i].shape());
        group_norm_.backward(d_norm_out, d_conv_blocks_[i]);
        d_conv = &d_conv_blocks_[i];
      } else if (o.mode == extractor_mode::layer_norm) {
        transpose12(d_norm_out, scratch_b_);  // [B, T, C]
        nn::detail::zero_like(scratch_c_, scratch_b_.shape());
        conv_norms_[i].backward(scratch_b_, scratch_c_);
        transpose12(scratch_c_, d_conv_blocks_[i]);
        d_conv = &d_conv_blocks_[i];
      }
      if (i == 0) {
        if (dx != nullptr) {
          convs_[0].backward(*d_conv, *dx);
        } else {
          nn::detail::zero_like(d_input_, std::array<std::size_t, 3>{batch_, o.in_channels, input_samples()});
          convs_[0].backward(*d_conv, d_input_);
        }
      } else {
        nn::detail::zero_like(d_blocks_[i - 1], act_[i - 1].shape());
        convs_[i].backward(*d_conv, d_blocks_[i - 1]);
        d_act = &d_blocks_[i - 1];
      }
    }
  }
  [[nodiscard]] std::size_t input_samples() const { return samples_; }

  ecg_transformer_options options_;
  std::vector<nn::conv1d<T, B>> convs_;
  std::vector<nn::layer_norm<T, B, 3>> conv_norms_;
  std::vector<nn::gelu<T, B, 3>> conv_gelus_;
  nn::group_norm<T, B> group_norm_;
  nn::layer_norm<T, B, 3> feature_norm_;
  std::unique_ptr<nn::linear<T, B, 3>> post_proj_;
  nn::dropout<T, B, 3> dropout_input_, dropout_features_, encoder_dropout_;
  nn::span_mask<T, B> span_;
  nn::pos_conv<T, B> pos_conv_;
  nn::layer_norm<T, B, 3> encoder_norm_;
  std::vector<nn::transformer_layer<T, B>> layers_;
  nn::transformer_layer_workspace<T, B> layer_workspace_;  // one for the whole stack
  std::vector<std::size_t> layer_offsets_;  // where layer l's parameters begin in the store
  std::function<void(std::size_t)> backward_progress_;
  nn::gumbel_quantizer<T, B> quantizer_;
  nn::linear<T, B, 2> project_q_, final_proj_;

  bool training_ = true;
  bool masking_ = false;
  std::size_t batch_ = 0, frames_ = 0, samples_ = 0;
  outputs out_;
  backend_array_t<std::size_t, B> masked_rows_device_;  // cuda: out_.masked_rows uploaded
  const std::size_t* masked_rows_ = nullptr;            // where the layout kernels read them
  activation<3> input_;  // the first convolution's input, kept for its weight gradient
  std::vector<activation<3>> conv_out_, norm_in_, norm_out_, act_, layer_io_;
  activation<3> features_t_, normed_, unmasked_, h0_, h1_, h2_, pos_, h3_;
  activation<2> enc_masked_, quant_in_, quantized_, d_rows_, d_quantized_;
  activation<3> d_enc_, d_unmasked_, d_a_, d_b_, d_c_, d_norm_, d_feat_t_, d_z_;
  activation<3> scratch_b_, scratch_c_, d_input_;
  std::vector<activation<3>> d_blocks_, d_norm_blocks_, d_conv_blocks_;
};

}  // namespace ecgssl::model

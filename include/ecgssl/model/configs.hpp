#pragma once
/// \file configs.hpp
/// Architecture descriptions of the ECG transformer (spec §3.3-§3.11) and the named sizes:
/// tiny (C=128, D=128, L=2, H=4, F=512), small (256/256/4/4/1024) and base (256/768/12/12/3072,
/// the paper's model). A Config type names the scalar type, the backend and the options, so
/// `ecg_transformer<base_config<float>>` is the paper's encoder in single precision on the host.

#include <cstddef>

#include "../core/backend.hpp"

namespace ecgssl::model {

/// Normalisation inside the convolutional feature extractor (spec §3.3).
enum class extractor_mode {
  group_norm_first,  ///< GroupNorm(C groups) after the first conv only: the code's default
  layer_norm,        ///< LayerNorm over channels after every conv: the paper's text
};

/// Every architectural and regularisation choice of the encoder.
struct ecg_transformer_options {
  std::size_t in_channels = 12;      ///< leads
  std::size_t conv_dim = 256;        ///< C, channels of every conv block
  std::size_t conv_layers = 4;       ///< number of (k = s = 2) conv blocks
  std::size_t conv_kernel = 2;
  std::size_t conv_stride = 2;
  extractor_mode mode = extractor_mode::group_norm_first;
  std::size_t embed_dim = 768;       ///< D
  std::size_t layers = 12;           ///< L
  std::size_t heads = 12;            ///< H
  std::size_t ffn_dim = 3072;        ///< F
  std::size_t pos_kernel = 128;
  std::size_t pos_groups = 16;
  bool layer_norm_first = false;     ///< false = post-LN (paper-era code)
  bool legacy_batch_axis = false;    ///< attention over the batch axis (paper-era bug, §3.7)
  double dropout = 0.1;
  double attention_dropout = 0.1;
  double activation_dropout = 0.0;
  double dropout_input = 0.1;        ///< after post_extract_proj (§3.4)
  double dropout_features = 0.1;     ///< on the quantizer's input (§3.4)
  double feature_grad_mult = 0.1;    ///< gradient scale into the conv extractor (§3.3)
  // masking (§3.5)
  bool apply_mask = true;
  double mask_prob = 0.65;
  std::size_t mask_length = 10;
  std::size_t min_masks = 2;
  // pre-training heads (§3.8, §3.9)
  bool pretraining_heads = true;     ///< quantizer, project_q, final_proj, mask_emb
  std::size_t final_dim = 256;
  std::size_t latent_vars = 320;     ///< V
  std::size_t latent_groups = 2;     ///< G
  double max_temp = 2.0;
  double min_temp = 0.5;
  double temp_decay = 0.999995;
};

/// 128/128/2/4/512: tests and quick experiments (893,440 parameters at pre-training).
template <class T = float, class Backend = host>
struct tiny_config {
  using scalar_type = T;
  using backend_type = Backend;
  static constexpr ecg_transformer_options options() {
    ecg_transformer_options o;
    o.conv_dim = 128;
    o.embed_dim = 128;
    o.layers = 2;
    o.heads = 4;
    o.ffn_dim = 512;
    return o;
  }
};

/// 256/256/4/4/1024 (4,462,848 parameters at pre-training).
template <class T = float, class Backend = host>
struct small_config {
  using scalar_type = T;
  using backend_type = Backend;
  static constexpr ecg_transformer_options options() {
    ecg_transformer_options o;
    o.conv_dim = 256;
    o.embed_dim = 256;
    o.layers = 4;
    o.heads = 4;
    o.ffn_dim = 1024;
    return o;
  }
};

/// The paper's encoder, 256/768/12/12/3072 (90,883,072 parameters at pre-training, backbone
/// 90,373,248; spec §3.11).
template <class T = float, class Backend = host>
struct base_config {
  using scalar_type = T;
  using backend_type = Backend;
  static constexpr ecg_transformer_options options() { return {}; }
};

}  // namespace ecgssl::model

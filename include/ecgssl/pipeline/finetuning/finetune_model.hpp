#pragma once
/// \file finetune_model.hpp
/// The fine-tuning model of spec §6: the ECG transformer encoder (no pre-training heads, no
/// masking), mean pooling over its frames, and a task head:
///   arrhythmia (§6.2):     logits = Linear(D -> 26)(mean_t encoded)   (xavier-uniform, bias 0, §3.10)
///   identification (§6.3): ArcFace(s = 192, m = 1) on the pooled embedding; W: [identities, D]
///                          ~ U(-1, 1) with unit rows (§3.10); retrieval uses the pooled embedding.
/// Encoder starts: a pre-trained checkpoint (strict load; quantizer, project_q, final_proj and
/// mask_emb dropped, §6.1) with the conv extractor frozen (feature_grad_mult 0), or a random
/// initialisation with a trainable extractor (the paper's Random Init. baseline). In linear-probe
/// mode only the head is trained and the encoder runs in evaluation mode.
///
/// Parameter names: the encoder's fairseq-signals names (as in pre-training checkpoints), then
/// `head.weight`, `head.bias` (arrhythmia, superclass: Linear(D -> 5)) or `arcface.weight` (identification).

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "../../core/backend.hpp"
#include "../../core/backend_tensor.hpp"
#include "../../core/error.hpp"
#include "../../core/parameter_store.hpp"
#include "../../core/philox.hpp"
#include "../../core/tensor.hpp"
#include "../../io/challenge_labels.hpp"
#include "../../io/checkpoint.hpp"
#include "../../loss/arcface.hpp"
#include "../../model/configs.hpp"
#include "../../model/detail/encoder_layout_kernels.hpp"
#include "../../model/ecg_transformer.hpp"
#include "../../nn/detail/common.hpp"
#include "../../io/ptbxl_database.hpp"
#include "../../nn/linear.hpp"
#include "../embedding/pretrained_encoder.hpp"

namespace ecgssl::pipeline {

/// The downstream task: the paper's arrhythmia classification (26 Challenge classes, spec §6.2)
/// and patient identification (spec §6.3), and PTB-XL's five diagnostic superclasses (NORM, MI,
/// STTC, CD, HYP; its benchmark task, trained like arrhythmia: a linear head, binary
/// cross-entropy per class, but scored by macro AUROC, since the Challenge score's weights are
/// defined for the 26 classes only).
enum class finetune_task { arrhythmia, identification, superclass };

inline const char* task_name(finetune_task t) {
  switch (t) {
    case finetune_task::arrhythmia: return "arrhythmia";
    case finetune_task::identification: return "identification";
    case finetune_task::superclass: return "superclass";
  }
  return "unknown";
}
inline finetune_task parse_task(const std::string& name) {
  if (name == "arrhythmia") return finetune_task::arrhythmia;
  if (name == "identification") return finetune_task::identification;
  if (name == "superclass") return finetune_task::superclass;
  throw config_error(at_field("task"), "'" + name + "'", "arrhythmia, identification or superclass");
}
/// Whether the task is multi-label classification (a linear head and per-class sigmoids).
inline bool is_multilabel(finetune_task t) { return t != finetune_task::identification; }
/// The validation and summary metric of a task: the Challenge score, macro AUROC or top-1.
inline const char* task_metric_name(finetune_task t) {
  return t == finetune_task::arrhythmia ? "challenge_score" : t == finetune_task::superclass ? "auroc" : "top1";
}

/// What the fine-tuning model is made of.
struct finetune_model_options {
  finetune_task task = finetune_task::arrhythmia;
  model::ecg_transformer_options encoder = model::tiny_config<float>::options();
  std::size_t classes = io::challenge_class_count;  ///< 26 or 5 labels, or training identities
  bool pretrained = true;     ///< false: Random Init. (extractor trainable, feature_grad_mult 1)
  bool linear_probe = false;  ///< train the head only (encoder frozen, evaluation mode)
  double arcface_scale = 192.0;
  double arcface_margin = 1.0;
};

/// The encoder options of fine-tuning (spec §5 table, §6.1): dropout 0, attention dropout 0,
/// activation dropout 0.1, no masking, no pre-training heads, extractor frozen when pre-trained.
inline model::ecg_transformer_options finetuning_encoder_options(model::ecg_transformer_options o, bool pretrained) {
  o.dropout = 0.0;
  o.attention_dropout = 0.0;
  o.activation_dropout = 0.1;
  o.dropout_input = 0.0;
  o.dropout_features = 0.0;
  o.apply_mask = false;
  o.pretraining_heads = false;
  o.feature_grad_mult = pretrained ? 0.0 : 1.0;
  return o;
}

/// Encoder + mean pooling + task head over one flat parameter store (spec §6).
///
/// `Backend` is where the encoder, the pooling and the head compute. On cuda (instantiate it
/// from a .cu translation unit that includes the cuda layers, losses and
/// <ecgssl/cuda/layout_kernels.cuh>) the model reads its parameters from the store's device
/// mirror: a training_backend (fine-tuning) or inference_parameters
/// (evaluation) must hold one while the model runs. Batches arrive on the host and are uploaded
/// once per forward; logits, pooled embeddings and their gradients stay on the backend
/// (`on_host` brings a result back).
template <class T = float, class Backend = host>
class finetune_model {
 public:
  using scalar_type = T;
  using backend_type = Backend;
  template <std::size_t N>
  using activation = backend_tensor_t<T, N, Backend>;
  struct encoder_config {
    using scalar_type = T;
    using backend_type = Backend;
    static constexpr model::ecg_transformer_options options() { return model::tiny_config<T>::options(); }
  };
  using encoder_type = model::ecg_transformer<encoder_config>;
  using arcface_type = arcface<T, Backend>;

  /// Builds the model with random initial values drawn from `seed` (spec §3.10).
  explicit finetune_model(finetune_model_options options, std::uint64_t seed = 1)
      : options_(checked(options)), encoder_(options_.encoder) {
    if (is_multilabel(options_.task)) {
      head_ = std::make_unique<nn::linear<T, Backend, 2>>(nn::linear_options{
          .in_features = dim(), .out_features = options_.classes, .bias = true, .init = nn::linear_init::xavier_uniform});
    } else {
      arcface_ = std::make_unique<arcface_type>(options_.classes, dim(),
                                                arcface_options{.scale = options_.arcface_scale, .margin = options_.arcface_margin});
    }
    encoder_.declare_parameters(store_);
    if (head_) head_->declare_parameters(store_, "head.");
    if (arcface_) arcface_->declare_parameters(store_, "arcface.");
    store_.allocate();
    const random_stream rng(seed, stream_id({0x66696e65ULL /* "fine" */}));
    encoder_.initialize(nn::detail::child_stream(rng, 1));
    if (head_) head_->initialize(nn::detail::child_stream(rng, 2));
    if (arcface_) initialize_arcface(nn::detail::child_stream(rng, 3));
    // The frozen extractor (and, for a linear probe, the whole encoder) is never updated.
    if (options_.linear_probe) {
      for (const auto& e : store_.entries()) {
        if (e.name.rfind("head.", 0) != 0 && e.name.rfind("arcface.", 0) != 0) store_.set_trainable(e.name, false);
      }
    } else if (options_.encoder.feature_grad_mult == 0.0) {
      store_.set_trainable("feature_extractor.", false);
    }
    set_training(true);
  }

  // Layers hold handles into the store: the model stays where it was built.
  finetune_model(const finetune_model&) = delete;
  finetune_model& operator=(const finetune_model&) = delete;

  [[nodiscard]] const finetune_model_options& options() const { return options_; }
  [[nodiscard]] parameter_store<T>& store() { return store_; }
  [[nodiscard]] const parameter_store<T>& store() const { return store_; }
  [[nodiscard]] encoder_type& encoder() { return encoder_; }
  [[nodiscard]] std::size_t dim() const { return options_.encoder.embed_dim; }
  /// The identification head (config_error for a classification model).
  [[nodiscard]] arcface_type& arcface_loss() {
    require_task(finetune_task::identification);
    return *arcface_;
  }

  /// Loads a pre-trained encoder (spec §6.1): every encoder tensor must be in the file (strict),
  /// the pre-training heads are dropped, the task head keeps its fresh values. Returns the report.
  /// Host values: load before a device mirror is made (or upload afterwards).
  io::checkpoint::load_report load_pretrained(const io::checkpoint& ck) {
    return load_pretrained_encoder(ck, store_, {"head.", "arcface."});
  }
  /// Loads every tensor of a fine-tuned model (strict, head included).
  void load_finetuned(const io::checkpoint& ck) { ck.load_parameters(store_); }

  /// Training mode: activation dropout on (unless linear probe, where the encoder is a fixed
  /// feature extractor).
  void set_training(bool training) {
    training_ = training;
    encoder_.set_training(training && !options_.linear_probe);
  }
  /// Seeds the dropout of the next forward from (seed, step).
  void set_step(std::uint64_t seed, std::uint64_t step) { encoder_.set_step(seed, step); }

  /// x: [batch, 12, samples] (host) -> pooled: [batch, D] (mean over frames), on the backend.
  const activation<2>& embed(const tensor<T, 3>& x) {
    const auto& enc = encoder_.forward(encoder_input(x)).encoded;  // [B, T, D]
    const std::size_t b = enc.shape()[0], t = enc.shape()[1], d = enc.shape()[2];
    if (t == 0) throw shape_error(at_field("finetune_model input samples"), "no encoder frame", "at least one frame");
    nn::detail::ensure_shape(pooled_, std::array<std::size_t, 2>{b, d});
    layout::mean_over_time(enc.data(), pooled_.data(), b, t, d);
    frames_ = t;
    return pooled_;
  }

  /// Class logits: x: [batch, 12, samples] (host) -> [batch, classes], on the backend.
  const activation<2>& logits(const tensor<T, 3>& x) {
    require_multilabel();
    embed(x);
    head_->forward(pooled_, logits_);
    return logits_;
  }

  /// Backward of logits(): accumulates every trainable parameter gradient from d_logits [batch, classes].
  void backward_logits(const activation<2>& d_logits) {
    require_multilabel();
    nn::detail::zero_like(d_pooled_, pooled_.shape());
    head_->backward(d_logits, d_pooled_);
    backward_pooled();
  }

  /// Backward from d pooled [batch, D] already in d_pooled() (identification: ArcFace's input
  /// gradient). Skipped entirely in linear-probe mode.
  void backward_pooled() {
    if (options_.linear_probe) return;
    const std::size_t b = pooled_.shape()[0], d = pooled_.shape()[1];
    nn::detail::zero_like(encoder_gradients_.encoded, std::array<std::size_t, 3>{b, frames_, d});
    layout::mean_over_time_backward(d_pooled_.data(), encoder_gradients_.encoded.data(), b, frames_, d);
    encoder_.backward(encoder_gradients_);
  }
  /// Gradient buffer of the pooled embedding for backward_pooled() (zeroed and shaped by
  /// prepare_pooled_gradient()).
  activation<2>& prepare_pooled_gradient() {
    nn::detail::zero_like(d_pooled_, pooled_.shape());
    return d_pooled_;
  }

  /// `result` (logits or pooled embeddings of this model) readable on the host: itself on the
  /// host backend; on cuda a copy downloaded into a buffer of the model (valid until the next
  /// call; blocking).
  const tensor<T, 2>& on_host(const activation<2>& result) {
    if constexpr (std::is_same_v<Backend, host>) {
      return result;
    } else {
      result.copy_to_host(host_result_);
      return host_result_;
    }
  }

 private:
  static finetune_model_options checked(finetune_model_options o) {
    if (o.classes == 0) throw config_error(at_field("classes"), "0", "at least one class (26 or 5 labels, or the identities)");
    if (o.task == finetune_task::superclass && o.classes != io::ptbxl_superclasses.size()) {
      throw config_error(at_field("classes"), std::to_string(o.classes), "5 for the superclass task (NORM, MI, STTC, CD, HYP)");
    }
    o.encoder.pretraining_heads = false;
    o.encoder.apply_mask = false;
    // spec §6.1: a pre-trained extractor is frozen (GradMultiply 0); Random Init. trains it.
    o.encoder.feature_grad_mult = o.pretrained ? 0.0 : 1.0;
    if (o.encoder.in_channels != 12) {
      throw config_error(at_field("in_channels"), std::to_string(o.encoder.in_channels),
                         "12 (reduced lead sets are zero-filled to 12 channels, spec §3.1)");
    }
    return o;
  }
  void require_multilabel() const {
    if (!is_multilabel(options_.task)) {
      throw config_error(at_field("task"), std::string("the model is for ") + task_name(options_.task),
                         "an arrhythmia or superclass model");
    }
  }
  void require_task(finetune_task t) const {
    if (options_.task != t) {
      throw config_error(at_field("task"), std::string("the model is for ") + task_name(options_.task),
                         std::string("a ") + task_name(t) + " model");
    }
  }
  // U(-1, 1), then every row scaled to unit norm (torch's renorm(2, 0, 1e-5).mul(1e5), §3.10).
  void initialize_arcface(const random_stream& rng) {
    auto w = store_.values("arcface.weight");
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<T>(2.0 * rng.uniform(i) - 1.0);
    const std::size_t d = dim();
    for (std::size_t r = 0; r < options_.classes; ++r) {
      double norm = 0;
      for (std::size_t k = 0; k < d; ++k) norm += double(w[r * d + k]) * double(w[r * d + k]);
      norm = std::sqrt(norm);
      if (norm > 1e-5) {
        for (std::size_t k = 0; k < d; ++k) w[r * d + k] = static_cast<T>(double(w[r * d + k]) * (1e-5 / norm) * 1e5);
      }
    }
  }

  using layout = implementation_t<model::detail::encoder_layout_op, Backend>;

  // The host batch as the encoder's input: itself, or uploaded into a reused device buffer.
  const activation<3>& encoder_input(const tensor<T, 3>& x) {
    if constexpr (std::is_same_v<Backend, host>) {
      return x;
    } else {
      nn::detail::assign_from_host(device_input_, x);
      return device_input_;
    }
  }

  finetune_model_options options_;
  encoder_type encoder_;
  std::unique_ptr<nn::linear<T, Backend, 2>> head_;
  std::unique_ptr<arcface_type> arcface_;
  parameter_store<T> store_;
  bool training_ = true;
  std::size_t frames_ = 0;
  activation<2> pooled_, logits_, d_pooled_;
  activation<3> device_input_;  // cuda: the uploaded batch (unused on the host)
  typename encoder_type::gradients encoder_gradients_;  // reused: on cuda a fresh one allocates
  tensor<T, 2> host_result_;
};

}  // namespace ecgssl::pipeline

#pragma once
/// \file pretrained_encoder.hpp
/// An encoder loaded from a pre-training checkpoint for downstream use (spec §6.1): its
/// configuration comes from the checkpoint's "ecgssl.config" (or is given), the pre-training
/// modules (quantizer, project_q, final_proj, mask_emb) are dropped, everything else is loaded
/// strictly, and it runs in eval mode without time masking (no dropout, no RLM).
///
/// The free functions here are the one loading path of a pre-trained encoder: `ecgssl embed`
/// (this class), fine-tuning (finetune_model::load_pretrained) and `ecgssl finetune` use them.

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../core/error.hpp"
#include "../../core/parameter_store.hpp"
#include "../../io/checkpoint.hpp"
#include "../../model/ecg_transformer.hpp"
#include "../../model/encoder_config.hpp"

namespace ecgssl::pipeline {

/// Name prefixes of the pre-training-only tensors, dropped when an encoder is loaded for
/// downstream use (spec §6.1).
inline const std::vector<std::string>& pretraining_head_prefixes() {
  static const std::vector<std::string> prefixes{"quantizer.", "project_q.", "final_proj.", "mask_emb"};
  return prefixes;
}

/// The encoder options of a pre-training checkpoint: `config` (a name or JSON file) when given,
/// else its "ecgssl.config" in either form of encoder_config::from_checkpoint_config
/// (config_error naming the file and key when it has none or it is malformed).
inline model::ecg_transformer_options pretrained_encoder_options(const io::checkpoint& ck, const std::filesystem::path& path,
                                                                 const std::optional<std::string>& config = std::nullopt) {
  if (config) return model::encoder_config::resolve(*config);
  const auto text = ck.config();
  if (!text) {
    throw config_error(in_file(path.string(), "ecgssl.config"), "the checkpoint names no configuration",
                       "a checkpoint written by ecgssl pretrain, or --config tiny|small|base|FILE.json");
  }
  const auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) {
    throw config_error(in_file(path.string(), "ecgssl.config"), "invalid JSON", "the JSON object of docs/checkpoints.md, or --config");
  }
  return model::encoder_config::from_checkpoint_config(j, path.string() + " ecgssl.config");
}

/// Loads the encoder tensors of a pre-training checkpoint into `store`: strict (every encoder
/// tensor present with its shape, nothing unknown), the pre-training heads dropped;
/// `optional_prefixes` name parameters of `store` the file need not hold (a fresh task head).
template <class T>
io::checkpoint::load_report load_pretrained_encoder(const io::checkpoint& ck, parameter_store<T>& store,
                                                    std::vector<std::string> optional_prefixes = {}) {
  io::checkpoint::load_options o;
  o.strict = true;
  o.skip_prefixes = pretraining_head_prefixes();
  o.optional_prefixes = std::move(optional_prefixes);
  return ck.load_parameters(store, o);
}

/// Encoder + its parameters, loaded from a checkpoint.
template <class Config = model::tiny_config<float>>
class pretrained_encoder {
 public:
  using encoder_type = model::ecg_transformer<Config>;
  using T = typename Config::scalar_type;

  /// `config`: a name or JSON file that overrides the checkpoint's configuration (needed for a
  /// checkpoint without one). io_error when tensor names or shapes do not match it.
  explicit pretrained_encoder(const std::filesystem::path& path, const std::optional<std::string>& config = std::nullopt)
      : checkpoint_(io::checkpoint::load(path)), encoder_(eval_options(pretrained_encoder_options(checkpoint_, path, config))) {
    encoder_.declare_parameters(store_);
    store_.allocate();
    load_pretrained_encoder(checkpoint_, store_);
    encoder_.set_training(false);
  }

  [[nodiscard]] encoder_type& encoder() { return encoder_; }
  [[nodiscard]] const parameter_store<T>& parameters() const { return store_; }
  /// The store itself (to mirror it where the encoder computes: inference_parameters).
  [[nodiscard]] parameter_store<T>& parameters() { return store_; }

 private:
  static model::ecg_transformer_options eval_options(model::ecg_transformer_options o) {
    o.pretraining_heads = false;
    o.apply_mask = false;
    return o;
  }

  io::checkpoint checkpoint_;
  encoder_type encoder_;
  parameter_store<T> store_;
};

}  // namespace ecgssl::pipeline

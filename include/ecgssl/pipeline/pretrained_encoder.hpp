#pragma once
/// \file pretrained_encoder.hpp
/// An encoder loaded from a pre-training checkpoint for downstream use (spec §6.1): its
/// configuration comes from the checkpoint's "ecgssl.config" (or is given), the pre-training
/// modules (quantizer, project_q, final_proj, mask_emb) are dropped, everything else is loaded
/// strictly, and it runs in eval mode without time masking (no dropout, no RLM).

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../io/checkpoint.hpp"
#include "../model/ecg_transformer.hpp"
#include "encoder_config.hpp"

namespace ecgssl::pipeline {

/// Encoder + its parameters, loaded from a checkpoint.
template <class Config = model::tiny_config<float>>
class pretrained_encoder {
 public:
  using encoder_type = model::ecg_transformer<Config>;
  using T = typename Config::scalar_type;

  /// `config`: a name or JSON file that overrides the checkpoint's configuration (needed for a
  /// checkpoint without one). io_error when tensor names or shapes do not match it.
  explicit pretrained_encoder(const std::filesystem::path& path, const std::optional<std::string>& config = std::nullopt)
      : checkpoint_(io::checkpoint::load(path)), encoder_(eval_options(options_of(checkpoint_, path, config))) {
    encoder_.declare_parameters(store_);
    store_.allocate();
    io::checkpoint::load_options lo;
    lo.skip_prefixes = {"quantizer.", "project_q.", "final_proj.", "mask_emb"};
    checkpoint_.load_parameters(store_, lo);
    encoder_.set_training(false);
  }

  [[nodiscard]] encoder_type& encoder() { return encoder_; }
  [[nodiscard]] const parameter_store<T>& parameters() const { return store_; }

 private:
  static model::ecg_transformer_options options_of(const io::checkpoint& ck, const std::filesystem::path& path,
                                                   const std::optional<std::string>& config) {
    if (config) return encoder_config::resolve(*config);
    const auto text = ck.config();
    if (!text) {
      throw config_error(in_file(path.string(), "ecgssl.config"), "the checkpoint names no configuration",
                         "--config tiny|small|base|FILE.json");
    }
    const auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.contains("model")) {
      throw config_error(in_file(path.string(), "ecgssl.config.model"), "no model configuration",
                         "a checkpoint written by ecgssl pretrain, or --config");
    }
    return encoder_config::from_json(j["model"], path.string() + ":ecgssl.config.model");
  }
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

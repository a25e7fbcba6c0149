#pragma once
/// \file encoder_config.hpp
/// Encoder configurations by name (tiny, small, base: model/configs.hpp) or as JSON (a file given
/// to `--config`, and the "ecgssl.config" metadata of a checkpoint). Every field of
/// ecg_transformer_options is a JSON key of the same name; a JSON file may give only some
/// keys on top of `"base": "tiny|small|base"` (default base). Unknown keys are an error.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../io/detail/regular_file.hpp"
#include "configs.hpp"

// Every option except `mode` (an enum, handled by name).
#define ECGSSL_ENCODER_OPTION_FIELDS(X)                                                              \
  X(in_channels) X(conv_dim) X(conv_layers) X(conv_kernel) X(conv_stride) X(embed_dim) X(layers)     \
  X(heads) X(ffn_dim) X(pos_kernel) X(pos_groups) X(layer_norm_first) X(legacy_batch_axis) X(dropout) \
  X(attention_dropout) X(activation_dropout) X(dropout_input) X(dropout_features)                    \
  X(feature_grad_mult) X(apply_mask) X(mask_prob) X(mask_length) X(min_masks) X(pretraining_heads)   \
  X(final_dim) X(latent_vars) X(latent_groups) X(max_temp) X(min_temp) X(temp_decay)

namespace ecgssl::model {

/// A named encoder configuration.
struct encoder_config {
  /// Options of "tiny", "small" or "base"; config_error for another name.
  static ecg_transformer_options named(std::string_view name) {
    if (name == "tiny") return model::tiny_config<float>::options();
    if (name == "small") return model::small_config<float>::options();
    if (name == "base") return model::base_config<float>::options();
    throw config_error(at_field("config"), "unknown configuration name '" + std::string(name) + "'",
                       "tiny, small, base or a .json file");
  }

  /// A name, or a path to a JSON file.
  static ecg_transformer_options resolve(const std::string& name_or_path) {
    if (name_or_path == "tiny" || name_or_path == "small" || name_or_path == "base") return named(name_or_path);
    std::error_code ec;
    if (!std::filesystem::exists(name_or_path, ec)) {
      throw io_error(in_file(name_or_path), "no such configuration name or file", "tiny, small, base or a readable .json file");
    }
    std::stringstream text(io::detail::read_regular_text_file(name_or_path, in_file(name_or_path),
                                                              "a configuration .json file", std::size_t{1} << 20));
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& e) {
      throw config_error(in_file(name_or_path, "byte " + std::to_string(e.byte)), "invalid JSON", "a JSON object");
    } catch (const nlohmann::json::exception& e) {
      throw config_error(in_file(name_or_path), std::string("invalid JSON: ") + e.what(), "a JSON object");
    }
    return from_json(j, name_or_path);
  }

  static nlohmann::json to_json(const ecg_transformer_options& o) {
    nlohmann::json j;
#define ECGSSL_OPTION_FIELD(name) j[#name] = o.name;
    ECGSSL_ENCODER_OPTION_FIELDS(ECGSSL_OPTION_FIELD)
#undef ECGSSL_OPTION_FIELD
    j["mode"] = o.mode == model::extractor_mode::layer_norm ? "layer_norm" : "group_norm_first";
    return j;
  }

  /// Options from a JSON object (`source` names the file in errors).
  static ecg_transformer_options from_json(const nlohmann::json& j, const std::string& source) {
    if (!j.is_object()) throw config_error(in_file(source), "not a JSON object", "{\"base\": \"tiny\", ...}");
    ecg_transformer_options o = named(j.contains("base") ? j.at("base").get<std::string>() : "base");
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& key = it.key();
      const auto& v = it.value();
      bool known = key == "base";
      try {
#define ECGSSL_OPTION_FIELD(name)    \
  if (key == #name) {                \
    o.name = v.get<decltype(o.name)>(); \
    known = true;                    \
  }
        ECGSSL_ENCODER_OPTION_FIELDS(ECGSSL_OPTION_FIELD)
#undef ECGSSL_OPTION_FIELD
        if (key == "mode") {
          const auto m = v.get<std::string>();
          if (m == "layer_norm") o.mode = model::extractor_mode::layer_norm;
          else if (m == "group_norm_first") o.mode = model::extractor_mode::group_norm_first;
          else throw config_error(in_file(source, "mode"), "'" + m + "'", "layer_norm or group_norm_first");
          known = true;
        }
      } catch (const nlohmann::json::exception&) {
        throw config_error(in_file(source, key), "value " + v.dump() + " has the wrong type",
                           "the type of ecg_transformer_options::" + key);
      }
      if (!known) {
        throw config_error(in_file(source, key), "unknown key", "a field of ecg_transformer_options or \"base\"");
      }
    }
    if (o.embed_dim == 0 || o.heads == 0 || o.embed_dim % o.heads != 0) {
      throw config_error(in_file(source, "heads"), std::to_string(o.heads) + " heads for dimension " + std::to_string(o.embed_dim),
                         "heads > 0 dividing embed_dim");
    }
    return o;
  }
};

}  // namespace ecgssl::model

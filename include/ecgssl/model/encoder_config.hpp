#pragma once
/// \file encoder_config.hpp
/// Encoder configurations by name (tiny, small, base: model/configs.hpp) or as JSON (a file given
/// to `--config`, and the "ecgssl.config" metadata of a checkpoint). Every field of
/// ecg_transformer_options is a JSON key of the same name; a JSON file may give only some
/// keys on top of `"base": "tiny|small|base"` (default base). Unknown keys are an error.
/// A checkpoint's configuration follows the contract of docs/checkpoints.md (keys
/// conv_channels, dim, layers, heads, ffn, extractor_mode at its top level); the form of
/// ecgssl 0.1 (options under "model") is read too.

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

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

namespace detail {

/// `v` as a T only where the conversion is exact: a whole non-negative number for an unsigned
/// field, any finite number for a double, true/false for a bool. nlohmann's get<> would cast a
/// float of 1e65 to an integer (undefined behaviour) and wrap -5 to 2^64 - 5.
/// What json_value_as accepts for a T, in words.
template <class T>
[[nodiscard]] const char* json_kind(const T&) {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_unsigned_v<T>) return "a whole number, 0 or more";
  else return "a finite number";
}

template <class T>
[[nodiscard]] bool json_value_as(const nlohmann::json& v, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) return false;
    out = v.get<bool>();
    return true;
  } else if constexpr (std::is_unsigned_v<T>) {
    // A document parsed from text holds 64 as unsigned; one built in C++ holds it as signed.
    std::uint64_t u = 0;
    if (v.is_number_unsigned()) u = v.get<std::uint64_t>();
    else if (v.is_number_integer() && v.get<std::int64_t>() >= 0) u = static_cast<std::uint64_t>(v.get<std::int64_t>());
    else return false;
    if (u > std::numeric_limits<T>::max()) return false;
    out = static_cast<T>(u);
    return true;
  } else {
    static_assert(std::is_floating_point_v<T>);
    if (!v.is_number() || !std::isfinite(v.get<double>())) return false;
    out = static_cast<T>(v.get<double>());
    return true;
  }
}

}  // namespace detail

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
    // A --config file holds either the encoder options object or the checkpoint contract's keys.
    if (is_contract_form(j)) return from_checkpoint_config(j, name_or_path);
    return from_json(j, name_or_path);
  }

  /// The keys of the checkpoint contract (docs/checkpoints.md), each an option under another
  /// name: "conv_channels" is conv_dim, "dim" embed_dim, "ffn" ffn_dim, "extractor_mode" mode
  /// ("default" or "layer_norm", fairseq-signals' values). The first six are required.
  static constexpr std::array<std::string_view, 9> contract_keys{"conv_channels", "dim",       "layers",     "heads",        "ffn",
                                                                 "extractor_mode", "final_dim", "latent_vars", "latent_groups"};
  static constexpr std::size_t required_contract_keys = 6;

  /// Writes `o` into a checkpoint's configuration in the canonical form: the contract keys at
  /// the top level, every other option under "encoder" by its ecg_transformer_options name.
  static void write_checkpoint_config(nlohmann::json& whole, const ecg_transformer_options& o) {
    nlohmann::json options = to_json(o);
    whole["conv_channels"] = o.conv_dim;
    whole["dim"] = o.embed_dim;
    whole["layers"] = o.layers;
    whole["heads"] = o.heads;
    whole["ffn"] = o.ffn_dim;
    whole["extractor_mode"] = o.mode == extractor_mode::layer_norm ? "layer_norm" : "default";
    whole["final_dim"] = o.final_dim;
    whole["latent_vars"] = o.latent_vars;
    whole["latent_groups"] = o.latent_groups;
    for (const char* covered : {"conv_dim", "embed_dim", "layers", "heads", "ffn_dim", "mode", "final_dim", "latent_vars", "latent_groups"}) {
      options.erase(covered);
    }
    whole["encoder"] = std::move(options);
  }

  /// The encoder options of a checkpoint's whole configuration object, in either form: the
  /// canonical one (contract keys at the top level, other options under "encoder", unnamed ones
  /// from the base configuration), or the form of ecgssl 0.1 (an options object under "model").
  /// `source` names the file in errors; a configuration in neither form lists the keys expected.
  static ecg_transformer_options from_checkpoint_config(const nlohmann::json& whole, const std::string& source) {
    const std::string expected =
        "top-level keys conv_channels, dim, layers, heads, ffn, extractor_mode (optional: final_dim, latent_vars, "
        "latent_groups, and \"encoder\": {other ecg_transformer_options fields}), or a \"model\" object of "
        "ecg_transformer_options fields";
    if (!whole.is_object()) throw config_error(in_file(source), "the configuration is not a JSON object", expected);
    const bool contract = is_contract_form(whole);
    const bool legacy = whole.contains("model") && whole.at("model").is_object();
    if (contract && legacy) {
      throw config_error(in_file(source, "model"), "both a \"model\" object and contract keys at the top level",
                         "one of the two forms: " + expected);
    }
    if (legacy) return from_json(whole.at("model"), source + " model");
    if (!contract) throw config_error(in_file(source), "no model configuration", expected);

    std::string missing;
    for (std::size_t k = 0; k < required_contract_keys; ++k) {
      if (!whole.contains(contract_keys[k])) missing += (missing.empty() ? "" : ", ") + std::string(contract_keys[k]);
    }
    if (!missing.empty()) throw config_error(in_file(source, missing), "missing " + missing, expected);

    // Rewritten as one options object, so types, ranges and unknown keys get from_json's checks.
    nlohmann::json options = nlohmann::json::object();
    if (whole.contains("encoder")) {
      const auto& extra = whole.at("encoder");
      if (!extra.is_object()) throw config_error(in_file(source, "encoder"), "not a JSON object", "{\"pos_kernel\": 128, ...}");
      for (auto it = extra.begin(); it != extra.end(); ++it) {
        for (const char* covered : {"base", "conv_dim", "embed_dim", "ffn_dim", "mode", "layers", "heads", "final_dim", "latent_vars", "latent_groups"}) {
          if (it.key() == covered) {
            throw config_error(in_file(source, "encoder." + it.key()), "an option the top-level contract keys give",
                               "it at the top level under its contract name");
          }
        }
        options[it.key()] = it.value();
      }
    }
    options["base"] = "base";
    const std::pair<const char*, const char*> renamed[] = {{"conv_channels", "conv_dim"}, {"dim", "embed_dim"}, {"layers", "layers"},
                                                           {"heads", "heads"},            {"ffn", "ffn_dim"},    {"final_dim", "final_dim"},
                                                           {"latent_vars", "latent_vars"}, {"latent_groups", "latent_groups"}};
    for (const auto& [from, to] : renamed) {
      if (whole.contains(from)) options[to] = whole.at(from);
    }
    const auto& mode = whole.at("extractor_mode");
    if (!mode.is_string() || (mode.get<std::string>() != "default" && mode.get<std::string>() != "layer_norm")) {
      throw config_error(in_file(source, "extractor_mode"), mode.dump(), "\"default\" (GroupNorm after the first conv) or \"layer_norm\"");
    }
    options["mode"] = mode.get<std::string>() == "layer_norm" ? "layer_norm" : "group_norm_first";
    return from_json(options, source);
  }

  /// Whether `j` uses the contract's names (a key no options object has).
  static bool is_contract_form(const nlohmann::json& j) {
    return j.is_object() && (j.contains("conv_channels") || j.contains("dim") || j.contains("ffn") || j.contains("extractor_mode"));
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
    if (j.contains("base") && !j.at("base").is_string()) {
      throw config_error(in_file(source, "base"), "value " + j.at("base").dump(), "\"tiny\", \"small\" or \"base\"");
    }
    ecg_transformer_options o = named(j.contains("base") ? j.at("base").get<std::string>() : "base");
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& key = it.key();
      const auto& v = it.value();
      bool known = key == "base";
      const char* expected = nullptr;  // set when the value does not fit the field's type
      try {
#define ECGSSL_OPTION_FIELD(name)                                                  \
  if (key == #name) {                                                              \
    if (!detail::json_value_as(v, o.name)) expected = detail::json_kind(o.name);   \
    known = true;                                                                  \
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
      if (expected != nullptr) {
        throw config_error(in_file(source, key), "value " + v.dump() + " has the wrong type or range",
                           std::string(expected) + " (ecg_transformer_options::" + key + ")");
      }
      if (!known) {
        throw config_error(in_file(source, key), "unknown key", "a field of ecg_transformer_options or \"base\"");
      }
    }
    if (o.embed_dim == 0 || o.heads == 0 || o.embed_dim % o.heads != 0) {
      throw config_error(in_file(source, "heads"), std::to_string(o.heads) + " heads for dimension " + std::to_string(o.embed_dim),
                         "heads > 0 dividing embed_dim");
    }
    require_sizes_fit(o, source);
    return o;
  }

  /// Parameters of the encoder `o` describes, pre-training heads included (an upper bound for
  /// the downstream encoder), counted from the layer shapes (spec §3.11), without allocating.
  [[nodiscard]] static double estimated_parameters(const ecg_transformer_options& o) {
    const double c = static_cast<double>(o.conv_dim), d = static_cast<double>(o.embed_dim), f = static_cast<double>(o.ffn_dim);
    const double k = static_cast<double>(o.conv_kernel);
    double n = static_cast<double>(o.in_channels) * c * k + static_cast<double>(o.conv_layers > 0 ? o.conv_layers - 1 : 0) * c * c * k;
    n += 4 * c + c * d + d;                                                            // norms, post_extract_proj
    n += d * (d / static_cast<double>(std::max<std::size_t>(o.pos_groups, 1))) * static_cast<double>(o.pos_kernel) + 2 * d;  // positional conv
    n += static_cast<double>(o.layers) * (4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d);  // transformer layers
    const double v = static_cast<double>(o.latent_vars) * static_cast<double>(o.latent_groups);
    const double fd = static_cast<double>(o.final_dim);
    n += v * (fd / static_cast<double>(std::max<std::size_t>(o.latent_groups, 1))) + c * v + v + fd * fd + fd + d * fd + fd + d;  // heads
    return n;
  }

  /// Refuses sizes no ECG encoder has, before anything is allocated: a corrupt or hostile
  /// configuration (1e8 layers, a width of 1e6) must be an error naming the key, not a
  /// std::bad_alloc after gigabytes, nor an allocation the machine cannot hold.
  static void require_sizes_fit(const ecg_transformer_options& o, const std::string& source) {
    const struct {
      const char* key;
      std::size_t value, low, high;
    } limits[] = {{"in_channels", o.in_channels, 1, 64},       {"conv_dim", o.conv_dim, 1, 8192},        {"conv_layers", o.conv_layers, 1, 16},
                  {"conv_kernel", o.conv_kernel, 1, 64},       {"conv_stride", o.conv_stride, 1, 64},    {"embed_dim", o.embed_dim, 1, 8192},
                  {"layers", o.layers, 1, 256},                {"heads", o.heads, 1, 256},               {"ffn_dim", o.ffn_dim, 1, 65536},
                  {"pos_kernel", o.pos_kernel, 1, 1024},       {"pos_groups", o.pos_groups, 1, 8192},    {"mask_length", o.mask_length, 1, 1024},
                  {"final_dim", o.final_dim, 1, 8192},         {"latent_vars", o.latent_vars, 1, 65536}, {"latent_groups", o.latent_groups, 1, 64},
                  {"min_masks", o.min_masks, 0, 1024}};
    for (const auto& l : limits) {
      if (l.value < l.low || l.value > l.high) {
        throw config_error(in_file(source, l.key), std::to_string(l.value), std::to_string(l.low) + " to " + std::to_string(l.high));
      }
    }
    if (o.embed_dim % o.pos_groups != 0) {
      throw config_error(in_file(source, "pos_groups"), std::to_string(o.pos_groups) + " groups for dimension " + std::to_string(o.embed_dim),
                         "groups dividing embed_dim");
    }
    // Weights, gradients and Adam's two moments in float32: 16 bytes a parameter, before any activation.
    const double bytes = 16.0 * estimated_parameters(o);
    const double physical = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
    if (physical > 0 && bytes > physical) {
      throw config_error(in_file(source, "model size"),
                         std::to_string(static_cast<long long>(estimated_parameters(o) / 1e6)) + " M parameters need " +
                             std::to_string(static_cast<long long>(bytes / (1 << 20))) + " MiB to train",
                         "a model that fits this machine's " + std::to_string(static_cast<long long>(physical / (1 << 20))) + " MiB");
    }
  }
};

}  // namespace ecgssl::model

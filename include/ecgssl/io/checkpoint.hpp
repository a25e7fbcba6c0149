#pragma once
/// \file checkpoint.hpp
/// Training checkpoints as safetensors files (spec §6.1: the pre-trained state dict is loaded
/// strictly, pre-training heads dropped by name). A checkpoint holds
///   - every tensor of a parameter_store under its own name ("encoder.conv0.weight"), so PyTorch
///     users can `safetensors.torch.load_file` it and see a state dict;
///   - extra named state: optimizer buffers laid out like the store ("optimizer.exp_avg.<name>"),
///     trainer scalars as I64 tensors ("trainer.step", "trainer.seed");
///   - the model configuration as a JSON string in "__metadata__" under "ecgssl.config".
/// Loading validates everything before touching the store, so a failed load changes nothing.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "safetensors.hpp"

namespace ecgssl::io {

/// How `checkpoint::load_parameters` matches file tensors to store entries.
struct checkpoint_load_options {
  /// Strict: a store entry absent from the file, or a file tensor the store does not declare,
  /// is an error. Non-strict: missing entries keep their values, unexpected tensors are ignored;
  /// both are reported. Wrong shapes are an error either way.
  bool strict = true;
  /// File tensors whose (prefix-stripped) name starts with one of these are dropped and
  /// reported as skipped, e.g. {"quantizer.", "project_q.", "final_proj."} for fine-tuning.
  std::vector<std::string> skip_prefixes;
  /// Store entries starting with one of these may be absent even when strict (a fresh
  /// fine-tuning head); they keep their values and are reported as missing.
  std::vector<std::string> optional_prefixes;
  /// File tensors that are not model parameters (optimizer and trainer state): never
  /// "unexpected" when loading parameters with an empty prefix.
  std::vector<std::string> state_prefixes = {"optimizer.", "trainer."};
};

/// What `checkpoint::load_parameters` did, by name.
struct checkpoint_load_report {
  std::vector<std::string> loaded;      ///< store entries filled from the file
  std::vector<std::string> missing;     ///< store entries not in the file (values unchanged)
  std::vector<std::string> unexpected;  ///< file tensors the store does not declare (ignored)
  std::vector<std::string> skipped;     ///< file tensors dropped by skip_prefixes
};

/// A set of named tensors and a configuration string, saved and loaded as one .safetensors file.
class checkpoint {
 public:
  /// "__metadata__" key of the model configuration (a JSON document as a string).
  static constexpr std::string_view config_key = "ecgssl.config";

  using load_options = checkpoint_load_options;
  using load_report = checkpoint_load_report;

  checkpoint() = default;

  /// Reads and validates a checkpoint file (io_error naming the file and field if corrupt).
  [[nodiscard]] static checkpoint load(const std::filesystem::path& path) {
    checkpoint out;
    out.file_ = safetensors::load(path);
    return out;
  }

  /// Wraps an already parsed safetensors file.
  [[nodiscard]] static checkpoint from(safetensors file) {
    checkpoint out;
    out.file_ = std::move(file);
    return out;
  }

  /// Writes atomically: on failure (io_error) any previous file at `path` is unchanged.
  void save(const std::filesystem::path& path) const { file_.save(path); }

  [[nodiscard]] const safetensors& file() const { return file_; }

  // ---------------------------------------------------------------- writing

  /// Adds every tensor of the store under `prefix + name` (float -> F32, double -> F64).
  template <class T>
  void add_parameters(const parameter_store<T>& store, const std::string& prefix = {}) {
    add_buffer(store, store.values(), prefix);
  }

  /// Adds a flat buffer laid out like the store (an optimizer moment, a gradient) as one tensor
  /// per entry named `prefix + entry name`, e.g. prefix "optimizer.exp_avg.".
  template <class T>
  void add_buffer(const parameter_store<T>& store, std::span<const T> flat, const std::string& prefix) {
    if (flat.size() != store.size()) {
      throw shape_error(at_field(prefix + "*"), "buffer has " + std::to_string(flat.size()) + " elements",
                        std::to_string(store.size()) + " (the store's size)");
    }
    for (const auto& e : store.entries()) {
      file_.add<T>(prefix + e.name, e.shape, flat.subspan(e.offset, e.size));
    }
  }

  /// Adds one extra tensor.
  template <class T>
  void add_tensor(std::string name, std::vector<std::size_t> shape, std::span<const T> values) {
    file_.add<T>(std::move(name), std::move(shape), values);
  }

  /// Adds an I64 scalar (trainer state such as "trainer.step").
  void add_scalar(std::string name, std::int64_t value) { file_.add_scalar<std::int64_t>(std::move(name), value); }

  /// Stores the model configuration; it must be valid JSON (config_error otherwise).
  void set_config(const std::string& json_text) {
    if (!nlohmann::json::accept(json_text)) {
      throw config_error(at_field(std::string(config_key)), "configuration is not valid JSON", "a JSON document");
    }
    file_.set_metadata(std::string(config_key), json_text);
  }

  void set_metadata(std::string key, std::string value) { file_.set_metadata(std::move(key), std::move(value)); }

  // ---------------------------------------------------------------- reading

  /// The configuration JSON text, if the checkpoint has one.
  [[nodiscard]] std::optional<std::string> config() const { return file_.metadata(config_key); }

  /// An I64 (or other integer) scalar: shape [] or [1].
  [[nodiscard]] std::int64_t scalar(std::string_view name) const {
    const auto t = file_.tensor(name);
    if (t.element_count != 1 || t.shape.size() > 1) {
      throw io_error(in_file(file_.source(), std::string(name) + ".shape"),
                     "shape " + shape_string(t.shape) + " is not a scalar", "[] or [1]");
    }
    std::int64_t value = 0;
    file_.read_into<std::int64_t>(name, std::span<std::int64_t>(&value, 1));
    return value;
  }

  /// Copies one tensor into `out` after checking its shape (io_error naming it otherwise).
  template <class T>
  void read_tensor(std::string_view name, std::span<const std::size_t> shape, std::span<T> out) const {
    const auto t = file_.tensor(name);
    if (!std::equal(t.shape.begin(), t.shape.end(), shape.begin(), shape.end())) {
      throw io_error(in_file(file_.source(), std::string(name) + ".shape"), "shape " + shape_string(t.shape),
                     shape_string(shape));
    }
    file_.read_into<T>(name, out);
  }

  /// Fills the store's values from the file by name (see load_options). Every problem is
  /// collected first and reported in one io_error listing all offending names by category;
  /// the store is only written when nothing is wrong.
  template <class T>
  load_report load_parameters(parameter_store<T>& store, const load_options& options = {}) const {
    return load_buffer(store, store.values(), std::string(), options);
  }

  /// Fills a flat buffer laid out like the store from tensors named `prefix + entry name`
  /// (e.g. an optimizer moment saved by add_buffer). With a non-empty prefix only file tensors
  /// starting with it are considered.
  template <class T>
  load_report load_buffer(const parameter_store<T>& store, std::span<T> flat, const std::string& prefix,
                          const load_options& options = {}) const {
    if (flat.size() != store.size()) {
      throw shape_error(at_field(prefix + "*"), "buffer has " + std::to_string(flat.size()) + " elements",
                        std::to_string(store.size()) + " (the store's size)");
    }
    load_report report;
    std::vector<std::string> wrong_shape;
    std::vector<std::string> wrong_dtype;
    std::vector<std::pair<const parameter_entry*, std::string>> to_copy;  // (entry, file name)
    std::unordered_map<std::string, bool> found;  // store name -> present in file

    for (const auto& t : file_.tensors()) {
      const std::string file_name(t.name);
      if (!starts_with(file_name, prefix)) continue;
      if (prefix.empty() && starts_with_any(file_name, options.state_prefixes)) continue;
      const std::string name = file_name.substr(prefix.size());
      if (starts_with_any(name, options.skip_prefixes)) {
        report.skipped.push_back(file_name);
        continue;
      }
      const parameter_entry* e = store.find(name);
      if (e == nullptr) {
        report.unexpected.push_back(file_name);
        continue;
      }
      found[name] = true;
      if (!std::equal(t.shape.begin(), t.shape.end(), e->shape.begin(), e->shape.end())) {
        wrong_shape.push_back(file_name + " " + shape_string(t.shape) + " (model " + shape_string(e->shape) + ")");
        continue;
      }
      if (!safetensors::is_floating(t.type)) {
        wrong_dtype.push_back(file_name + " " + safetensors::dtype_name(t.type));
        continue;
      }
      to_copy.emplace_back(e, file_name);
    }
    std::vector<std::string> missing_required;
    for (const auto& e : store.entries()) {
      if (found.count(e.name) != 0) continue;
      report.missing.push_back(prefix + e.name);
      if (!starts_with_any(e.name, options.optional_prefixes)) missing_required.push_back(prefix + e.name);
    }

    std::string problems;
    const auto list = [&problems](const char* what, const std::vector<std::string>& names) {
      if (names.empty()) return;
      if (!problems.empty()) problems += "; ";
      problems += std::to_string(names.size()) + " " + what + ": ";
      for (std::size_t i = 0; i < names.size(); ++i) problems += (i ? ", " : "") + names[i];
    };
    if (options.strict) list("missing from the file", missing_required);
    if (options.strict) list("unexpected in the file", report.unexpected);
    list("with the wrong shape", wrong_shape);
    list("with a non-floating dtype", wrong_dtype);
    if (!problems.empty()) {
      throw io_error(in_file(file_.source(), "tensor names"), "checkpoint does not match the model: " + problems,
                     "the model's tensor names and shapes (non-strict loading or skip_prefixes drop extra "
                     "tensors; optional_prefixes allow missing ones)");
    }

    // A NaN or infinite weight would only show up as non-finite outputs much later (an
    // embedding of NaNs, written with exit status 0): refuse it here, naming the tensor.
    for (const auto& [e, file_name] : to_copy) require_finite_tensor(file_name);
    for (const auto& [e, file_name] : to_copy) {
      file_.read_into<T>(file_name, flat.subspan(e->offset, e->size));
      report.loaded.push_back(file_name);
    }
    return report;
  }

 private:
  /// Throws data_error naming the file, the tensor and the first element that is NaN or infinite.
  void require_finite_tensor(const std::string& name) const {
    const auto t = file_.tensor(name);
    std::vector<double> values(t.element_count);
    file_.read_into<double>(name, std::span<double>(values));
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) {
        throw data_error(in_file(file_.source(), name + "[" + std::to_string(i) + "]"),
                         "the value is " + std::string(std::isnan(values[i]) ? "NaN" : "infinite"),
                         "finite weights (the checkpoint is corrupt, or it was saved from a diverged run)");
      }
    }
  }

  [[nodiscard]] static bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
  }
  [[nodiscard]] static bool starts_with_any(std::string_view text, const std::vector<std::string>& prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(), [text](const std::string& p) { return starts_with(text, p); });
  }

  safetensors file_;
};

}  // namespace ecgssl::io

#pragma once
/// \file finetune_checkpoint.hpp
/// Fine-tuned models on disk and the data splits of fine-tuning (spec §2.4, §6), following the
/// pre-training conventions (io::checkpoint safetensors, "ecgssl.config" JSON with the encoder
/// under "model" as model::encoder_config writes it). A fine-tuned checkpoint's config adds
/// "task", "classes", "pretrained", "linear_probe", "leads", and "split" ({"seed", "valid_fraction"},
/// or {"by": "folds", "valid_fold", "test_fold"}) so `evaluate` can rebuild the held-out part of
/// the same data.
///
/// Splits: arrhythmia and superclass = io::group_split by record (no record in two parts; the reference's
/// segment-level split leaks records, spec §9), or by the manifest's folds (split_by_folds: a
/// published split such as PTB-XL's strat_fold, which keeps a patient's records together);
/// identification = io::make_identification_split with records (or patients, where the manifest
/// names them) as identities: training identities get consecutive labels, held-out ones give
/// gallery/probe pairs (spec §6.3).

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../core/error.hpp"
#include "../../core/precision.hpp"
#include "../../io/checkpoint.hpp"
#include "../../io/manifest.hpp"
#include "../../io/python_random.hpp"
#include "../../io/splits.hpp"
#include "../../model/encoder_config.hpp"
#include "finetune_model.hpp"
#include "../../data/segment_set.hpp"

namespace ecgssl::pipeline {

/// Train / valid / test segments of one data set for one task.
struct finetune_split {
  data::segment_set train, valid, test;  ///< identification: valid == test == held-out identities
  std::size_t train_identities = 0;
};

/// Splits `all` for `task` (see the file comment). `patients[i]` (optional, empty = records)
/// names the identity of segment i for identification.
inline finetune_split split_segments(const data::segment_set& all, finetune_task task, double valid_fraction,
                                     std::uint64_t seed, const std::vector<std::string>& patients = {}) {
  finetune_split out;
  io::python_random rng(seed);
  if (is_multilabel(task)) {
    const auto parts = io::group_split(std::span<const std::string>(all.record_ids), valid_fraction, rng);
    out.train = all.subset(parts.train);
    out.valid = all.subset(parts.valid);
    out.test = all.subset(parts.test);
    return out;
  }
  const auto& keys = patients.empty() ? all.record_ids : patients;
  const auto parts = io::make_identification_split(std::span<const std::string>(keys), valid_fraction, rng);
  out.train = all.subset(parts.train);
  for (std::size_t i = 0; i < parts.train.size(); ++i) out.train.identities[i] = static_cast<std::int64_t>(parts.train_label[i]);
  std::vector<std::size_t> held;
  for (std::size_t k = 0; k < parts.gallery.size(); ++k) {
    held.push_back(parts.gallery[k]);
    held.push_back(parts.probe[k]);
  }
  out.valid = all.subset(held);
  for (std::size_t i = 0; i < held.size(); ++i) out.valid.identities[i] = static_cast<std::int64_t>(i / 2);
  out.test = out.valid;
  out.train_identities = parts.train_identities;
  return out;
}

/// Keeps the segments of records with at least one label, and their entries of `patients` and
/// `folds` (either may be empty); returns how many records were dropped. PTB-XL's superclass
/// benchmark drops records without a diagnostic superclass: "none" is not one of its classes,
/// and an all-negative row would teach the head that such a record is normal.
inline std::size_t keep_labelled(data::segment_set& all, std::vector<std::string>& patients, std::vector<int>& folds) {
  std::vector<std::size_t> keep;
  std::vector<std::string> dropped;
  for (std::size_t i = 0; i < all.size(); ++i) {
    bool any = false;
    for (std::size_t c = 0; c < all.labels.shape()[1]; ++c) any = any || all.labels(i, c) != 0.0f;
    if (any) {
      keep.push_back(i);
    } else if (dropped.empty() || dropped.back() != all.record_ids[i]) {
      dropped.push_back(all.record_ids[i]);
    }
  }
  if (keep.size() == all.size()) return 0;
  const auto pick = [&](auto& values) {
    if (values.empty()) return;
    std::remove_reference_t<decltype(values)> kept;
    for (const auto i : keep) kept.push_back(values[i]);
    values = std::move(kept);
  };
  pick(patients);
  pick(folds);
  all = all.subset(keep);
  std::sort(dropped.begin(), dropped.end());
  return static_cast<std::size_t>(std::unique(dropped.begin(), dropped.end()) - dropped.begin());
}

/// A published split: segments of fold `valid_fold` validate, of `test_fold` test, of any other
/// fold train (PTB-XL's recommendation: 9 and 10). `folds[i]` is segment i's fold, 0 = none:
/// data_error naming the record when a segment has none, and when a part is empty.
inline finetune_split split_by_folds(const data::segment_set& all, const std::vector<int>& folds, int valid_fold,
                                     int test_fold, const std::string& source) {
  if (folds.size() != all.size()) throw std::logic_error("split_by_folds: one fold per segment");
  if (valid_fold == test_fold) {
    throw config_error(at_field("--test-fold"), std::to_string(test_fold), "a fold other than the validation fold");
  }
  std::vector<std::size_t> train, valid, test;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (folds[i] == 0) {
      throw data_error(in_file(source, "fold"), "record " + all.record_ids[i] + " has no fold",
                       "a fold for every record (a manifest with a fold column; ecgssl manifest --ptbxl-database writes PTB-XL's)");
    }
    (folds[i] == valid_fold ? valid : folds[i] == test_fold ? test : train).push_back(i);
  }
  for (const auto& [part, name, fold] : {std::tuple{&valid, "validation", valid_fold}, std::tuple{&test, "test", test_fold}}) {
    if (part->empty()) {
      throw data_error(in_file(source, "fold"), "no record in " + std::string(name) + " fold " + std::to_string(fold),
                       "records in the validation and test folds");
    }
  }
  finetune_split out;
  out.train = all.subset(train);
  out.valid = all.subset(valid);
  out.test = all.subset(test);
  return out;
}

/// What a fine-tuned checkpoint says about its model and data.
struct finetune_checkpoint_info {
  finetune_model_options model;
  std::string leads = "12";
  std::uint64_t split_seed = 1;
  double valid_fraction = 0.1;
  /// Split by the data's folds (split_by_folds) instead of the seeded record split.
  bool split_by_folds = false;
  int valid_fold = 9, test_fold = 10;
  /// data/preprocessing.hpp name, applied by every use of the model; empty when the checkpoint
  /// records none (written before the key existed: trained on millivolts unless said otherwise).
  std::string preprocess;
  /// The arithmetic the model was trained in (core/precision.hpp); checkpoints from before the
  /// key existed were trained in fp32. Informational: any precision may use any checkpoint.
  ecgssl::precision precision = ecgssl::precision::fp32;
};

/// Saves the model and its description (the host store's values: after finetuner::fit they are
/// the kept epoch's, on every backend).
template <class T, class B>
void save_finetuned(const std::filesystem::path& path, const finetune_model<T, B>& model, const finetune_checkpoint_info& info) {
  io::checkpoint ck;
  ck.add_parameters(model.store());
  const auto& o = model.options();
  nlohmann::json j;
  model::encoder_config::write_checkpoint_config(j, o.encoder);
  j["method"] = "finetune";
  j["task"] = task_name(o.task);
  j["classes"] = o.classes;
  j["pretrained"] = o.pretrained;
  j["linear_probe"] = o.linear_probe;
  j["arcface_scale"] = o.arcface_scale;
  j["arcface_margin"] = o.arcface_margin;
  j["leads"] = info.leads;
  j["preprocess"] = info.preprocess.empty() ? std::string("none") : info.preprocess;
  j["precision"] = std::string(to_string(info.precision));
  if (info.split_by_folds) {
    j["split"] = {{"by", "folds"}, {"valid_fold", info.valid_fold}, {"test_fold", info.test_fold}};
  } else {
    j["split"] = {{"seed", info.split_seed}, {"valid_fraction", info.valid_fraction}};
  }
  ck.set_config(j.dump());
  ck.save(path);
}

/// The JSON configuration of a checkpoint (config_error if it has none).
inline nlohmann::json checkpoint_config(const io::checkpoint& ck, const std::filesystem::path& path) {
  const auto text = ck.config();
  if (!text) {
    throw config_error(in_file(path.string(), "ecgssl.config"), "the checkpoint has no configuration",
                       "a checkpoint written by ecgssl pretrain or ecgssl finetune");
  }
  try {
    return nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    throw config_error(in_file(path.string(), "ecgssl.config"), std::string("invalid JSON: ") + e.what(),
                       "the JSON configuration ecgssl writes");
  }
}

/// Reads a fine-tuned checkpoint's description (config_error naming the field otherwise).
inline finetune_checkpoint_info read_finetune_info(const io::checkpoint& ck, const std::filesystem::path& path) {
  const nlohmann::json j = checkpoint_config(ck, path);
  if (!j.contains("task")) {
    throw config_error(in_file(path.string(), "ecgssl.config.task"), "not a fine-tuned model (no task)",
                       "a checkpoint written by ecgssl finetune (a pre-trained one goes to finetune --checkpoint)");
  }
  finetune_checkpoint_info info;
  try {
    info.model.encoder = model::encoder_config::from_checkpoint_config(j, path.string() + " ecgssl.config");
    info.model.task = parse_task(j.at("task").get<std::string>());
    // Numbers only where they convert exactly (a hostile 1e65 classes must not reach a cast).
    const auto read = [&](const nlohmann::json& v, auto& out, const char* key) {
      if (!model::detail::json_value_as(v, out)) {
        throw config_error(in_file(path.string(), std::string("ecgssl.config.") + key), "value " + v.dump(), model::detail::json_kind(out));
      }
    };
    read(j.at("classes"), info.model.classes, "classes");
    if (info.model.classes == 0 || info.model.classes > 1000000) {
      throw config_error(in_file(path.string(), "ecgssl.config.classes"), std::to_string(info.model.classes), "1 to 1000000");
    }
    read(j.at("pretrained"), info.model.pretrained, "pretrained");
    read(j.at("linear_probe"), info.model.linear_probe, "linear_probe");
    if (j.contains("arcface_scale")) read(j.at("arcface_scale"), info.model.arcface_scale, "arcface_scale");
    if (j.contains("arcface_margin")) read(j.at("arcface_margin"), info.model.arcface_margin, "arcface_margin");
    info.leads = j.value("leads", std::string("12"));
    info.preprocess = j.value("preprocess", std::string());
    if (j.contains("precision")) {
      const auto& value = j.at("precision");
      if (!value.is_string() || (value != "fp32" && value != "bf16")) {
        throw config_error(in_file(path.string(), "ecgssl.config.precision"), "value " + value.dump(), "\"fp32\" or \"bf16\"");
      }
      info.precision = parse_precision(value.get<std::string>());
    }
    if (j.contains("split") && j["split"].value("by", std::string("records")) == "folds") {
      info.split_by_folds = true;
      for (const auto& [key, target] : {std::pair{"valid_fold", &info.valid_fold}, std::pair{"test_fold", &info.test_fold}}) {
        std::uint32_t fold = 0;
        read(j["split"].at(key), fold, (std::string("split.") + key).c_str());
        if (fold < 1 || fold > static_cast<std::uint32_t>(io::manifest::max_fold)) {
          throw config_error(in_file(path.string(), std::string("ecgssl.config.split.") + key), std::to_string(fold),
                             "a fold from 1 to " + std::to_string(io::manifest::max_fold));
        }
        *target = static_cast<int>(fold);
      }
    } else if (j.contains("split")) {
      read(j["split"].at("seed"), info.split_seed, "split.seed");
      read(j["split"].at("valid_fraction"), info.valid_fraction, "split.valid_fraction");
    }
  } catch (const nlohmann::json::exception& e) {
    throw config_error(in_file(path.string(), "ecgssl.config"), std::string("malformed: ") + e.what(),
                       "the configuration ecgssl finetune writes");
  }
  return info;
}

/// Loads a fine-tuned model (strict) into the host store. On the heap: the model's layers point
/// into its store. On cuda, make the store's device mirror (inference_parameters) afterwards.
template <class T = float, class B = host>
std::unique_ptr<finetune_model<T, B>> load_finetuned(const std::filesystem::path& path,
                                                     finetune_checkpoint_info* info_out = nullptr) {
  const io::checkpoint ck = io::checkpoint::load(path);
  const auto info = read_finetune_info(ck, path);
  auto model = std::make_unique<finetune_model<T, B>>(info.model);
  model->load_finetuned(ck);
  if (info_out != nullptr) *info_out = info;
  return model;
}

}  // namespace ecgssl::pipeline

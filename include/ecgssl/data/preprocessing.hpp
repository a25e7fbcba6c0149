#pragma once
/// \file preprocessing.hpp
/// What a record goes through before a model sees it, as a recorded choice: a checkpoint keeps
/// the preprocessing its model was trained with ("preprocess" in ecgssl.config), and every
/// command that uses the checkpoint applies the same, so a model trained on z-scored data never
/// sees millivolts by mistake.
///
/// - `none` (the paper, spec §2.2): millivolts as stored (io::read_millivolts: `uV` and `V`
///   converted, any other unit refused).
/// - `bandpass,zscore`: a zero-phase Butterworth band-pass 0.5-40 Hz (order 2 per side,
///   signal::band_pass, equal to scipy's sosfiltfilt) then a per-lead z-score over the whole
///   record (signal::zscore; a flat or absent lead stays zero). Records already published in
///   that form (units `NU`, e.g. the filtered PTB-XL set) are z-scored only: filtering them a
///   second time would narrow their band twice.

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "../core/concepts.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../io/checkpoint.hpp"
#include "../io/wfdb_record.hpp"
#include "../signal/band_pass.hpp"
#include "../signal/zscore.hpp"

namespace ecgssl::data {

enum class preprocessing { none, bandpass_zscore };

/// The name written to checkpoints and taken by `--preprocess`.
inline const char* preprocessing_name(preprocessing p) { return p == preprocessing::none ? "none" : "bandpass,zscore"; }

/// `none` or `bandpass,zscore`; config_error at `where` otherwise.
inline preprocessing parse_preprocessing(const std::string& name, const error_location& where) {
  if (name == "none") return preprocessing::none;
  if (name == "bandpass,zscore") return preprocessing::bandpass_zscore;
  throw config_error(where, "'" + name + "'", "none or bandpass,zscore");
}

/// The corners of the band-pass, Hz.
inline constexpr double preprocessing_low_hz = 0.5;
inline constexpr double preprocessing_high_hz = 40.0;

/// Applies `p` to x: [leads, samples] of a record sampled at `fs` whose values are already in
/// millivolts (`already_filtered`: the record was published band-passed and z-scored).
inline void apply_preprocessing(preprocessing p, tensor<float, 2>& x, double fs, bool already_filtered = false) {
  if (p == preprocessing::none) return;
  signal_context ctx;
  ctx.sampling_frequency = fs;
  if (!already_filtered) signal::band_pass(preprocessing_low_hz, preprocessing_high_hz, 2).apply(x, ctx);
  signal::zscore{}.apply(x, ctx);
}

/// The record at `path` as a model trained with `p` takes it: [leads, samples]. With `none`,
/// io::read_millivolts. With `bandpass,zscore`, signals in a voltage are converted to millivolts
/// and filtered, signals in `NU` taken as they are (already filtered), both then z-scored; a
/// record mixing the two, another unit, or an invalid sample is refused naming the file and lead.
inline tensor<float, 2> read_model_input(const std::string& path, preprocessing p) {
  if (p == preprocessing::none) return io::read_millivolts(path);
  const io::wfdb_record r = io::read_record(path);
  const std::size_t leads = r.n_leads();
  const auto n = static_cast<std::size_t>(r.n_samples);
  tensor<float, 2> x = tensor<float, 2>::from_shape({leads, n});
  std::size_t normalised = 0;
  for (std::size_t l = 0; l < leads; ++l) {
    const bool nu = r.units[l] == "NU";
    normalised += nu;
    const double scale = nu ? 1.0 : io::require_millivolt_scale(r.units[l], r.leads[l], path);
    for (std::size_t i = 0; i < n; ++i) {
      const double v = r.physical(l, i);
      if (!std::isfinite(v)) {
        throw data_error(in_file(path, "sample " + std::to_string(i) + " of lead " + r.leads[l]), "invalid (NaN) sample",
                         "records without missing samples (spec 2.2 skips them)");
      }
      x(l, i) = static_cast<float>(v * scale);
    }
  }
  if (normalised != 0 && normalised != leads) {
    throw data_error(in_file(path, "units"), std::to_string(normalised) + " of " + std::to_string(leads) + " leads in NU, the others in a voltage",
                     "one kind of record: all leads in NU (already filtered) or all in a voltage");
  }
  apply_preprocessing(p, x, r.fs, normalised == leads && leads > 0);
  return x;
}

/// The preprocessing a checkpoint records ("preprocess" in its ecgssl.config), or nullopt when
/// it records none (checkpoints from before the key, or converted from other code).
inline std::optional<preprocessing> recorded_preprocessing(const io::checkpoint& ck, const std::filesystem::path& path) {
  const auto text = ck.config();
  if (!text) return std::nullopt;
  const auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("preprocess")) return std::nullopt;
  if (!j.at("preprocess").is_string()) {
    throw config_error(in_file(path.string(), "ecgssl.config.preprocess"), j.at("preprocess").dump(), "\"none\" or \"bandpass,zscore\"");
  }
  return parse_preprocessing(j.at("preprocess").get<std::string>(), in_file(path.string(), "ecgssl.config.preprocess"));
}

/// `name` as recorded in a checkpoint (empty: nothing recorded).
inline std::optional<preprocessing> recorded_preprocessing(const std::string& name, const std::filesystem::path& path) {
  if (name.empty()) return std::nullopt;
  return parse_preprocessing(name, in_file(path.string(), "ecgssl.config.preprocess"));
}

/// What to apply when a checkpoint is used: what it records; `requested` (a `--preprocess`
/// value, empty when not given) must agree with it, and decides for a checkpoint that records
/// nothing (default none). A mismatch is a config_error naming both: a model must see its data
/// as it was trained.
inline preprocessing preprocessing_for(const std::optional<preprocessing>& recorded, const std::string& requested,
                                       const std::filesystem::path& checkpoint) {
  if (requested.empty()) return recorded.value_or(preprocessing::none);
  const preprocessing asked = parse_preprocessing(requested, at_field("--preprocess"));
  if (recorded && *recorded != asked) {
    throw config_error(at_field("--preprocess"), "'" + requested + "', but " + checkpoint.string() + " was trained on '" +
                                                     preprocessing_name(*recorded) + "' data",
                       std::string(preprocessing_name(*recorded)) + " (or leave --preprocess out: the checkpoint's is applied)");
  }
  return asked;
}

}  // namespace ecgssl::data

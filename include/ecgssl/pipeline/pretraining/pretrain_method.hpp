#pragma once
/// \file pretrain_method.hpp
/// The pre-training methods of the paper (spec §4.5, Tables 1-4) as compile-time compositions
/// of encoder, transform, lead masking and criterion, and their command-line names.
///
/// | name              | items                  | transform | lead mask | criterion             |
/// | w2v               | single segments        | none      | none      | W2V                   |
/// | w2v_rlm           | single segments        | none      | RLM 0.5   | W2V                   |
/// | cmsc              | consecutive pairs      | none      | none      | CMSC (unmasked)       |
/// | cmsc_rlm          | consecutive pairs      | none      | RLM 0.5   | CMSC (unmasked)       |
/// | w2v_cmsc          | consecutive pairs      | none      | none      | W2V + CMSC            |
/// | w2v_cmsc_rlm      | consecutive pairs      | none      | RLM 0.5   | W2V + CMSC (paper)    |
/// | w2v_cmsc_physio   | consecutive pairs      | Physio(4) | none      | W2V + CMSC (Table 4)  |
/// | simclr_rlm        | two views of a segment | none      | RLM 0.5   | NT-Xent over 2N       |
/// | 3kg               | two views of a segment | 3KG       | none      | NT-Xent, id positives |
///
/// 3KG (spec §4.5): each view is the segment with its VCG rotated (±45° about each axis) and
/// scaled (U(1, 1.5) per axis), then every lead time-masked over a random circular half of its
/// samples (mask_ratio 0.5, the reference's reading: a time mask, not a lead mask); positives =
/// views of the same identity (record) in the micro-batch, τ 0.1 (identity_nt_xent_criterion).

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "../../core/error.hpp"
#include "../../data/batch_loader.hpp"
#include "../../data/paired_source.hpp"
#include "../../data/record_source.hpp"
#include "../../data/two_view_source.hpp"
#include "../../data/wfdb_dataset.hpp"
#include "../../masking/no_lead_mask.hpp"
#include "../../masking/random_lead_mask.hpp"
#include "../../model/ecg_transformer.hpp"
#include "../../signal/compose.hpp"
#include "../../signal/physio_augmentation.hpp"
#include "../../signal/random_time_mask.hpp"
#include "../../signal/vcg_augmentation.hpp"
#include "identity_nt_xent_criterion.hpp"
#include "pooled_contrastive_criterion.hpp"
#include "pretrain_objective.hpp"
#include "w2v_cmsc_criterion.hpp"

namespace ecgssl::pipeline {

enum class pretrain_method { w2v, w2v_rlm, cmsc, cmsc_rlm, w2v_cmsc, w2v_cmsc_rlm, w2v_cmsc_physio, simclr_rlm, three_kg };

inline constexpr std::string_view pretrain_method_names =
    "w2v_cmsc_rlm, w2v, w2v_rlm, cmsc, cmsc_rlm, w2v_cmsc, w2v_cmsc_physio, simclr_rlm, 3kg";

/// Parses a method name (config_error listing the names otherwise).
inline pretrain_method parse_pretrain_method(std::string_view name) {
  if (name == "w2v") return pretrain_method::w2v;
  if (name == "w2v_rlm") return pretrain_method::w2v_rlm;
  if (name == "cmsc") return pretrain_method::cmsc;
  if (name == "cmsc_rlm") return pretrain_method::cmsc_rlm;
  if (name == "w2v_cmsc") return pretrain_method::w2v_cmsc;
  if (name == "w2v_cmsc_rlm") return pretrain_method::w2v_cmsc_rlm;
  if (name == "w2v_cmsc_physio") return pretrain_method::w2v_cmsc_physio;
  if (name == "simclr_rlm") return pretrain_method::simclr_rlm;
  if (name == "3kg") return pretrain_method::three_kg;
  throw config_error(at_field("method"), "unknown method '" + std::string(name) + "'", std::string(pretrain_method_names));
}

/// The Physio(4) augmentations of Table 4: powerline, EMG, baseline wander, baseline shift.
using physio_augmentations = signal::physio4;

template <class Config, class Transform, class Masking, class Criterion>
using objective_of = pretrain_objective<model::ecg_transformer<Config>, Transform, Masking, Criterion>;

template <class Config, bool Cmsc, class Masking, class Transform = data::no_transform>
using w2v_objective_t = objective_of<Config, Transform, Masking,
                                     w2v_cmsc_criterion<typename Config::scalar_type, Cmsc, typename Config::backend_type>>;

/// The paper's method: W2V + CMSC + RLM on consecutive-segment pairs.
template <class Config>
using w2v_cmsc_rlm_objective = w2v_objective_t<Config, true, masking::random_lead_mask>;
template <class Config>
using w2v_cmsc_objective = w2v_objective_t<Config, true, masking::no_lead_mask>;
template <class Config>
using w2v_cmsc_physio_objective = w2v_objective_t<Config, true, masking::no_lead_mask, physio_augmentations>;
template <class Config>
using w2v_objective = w2v_objective_t<Config, false, masking::no_lead_mask>;
template <class Config>
using w2v_rlm_objective = w2v_objective_t<Config, false, masking::random_lead_mask>;
template <class Config>
using cmsc_objective = objective_of<Config, data::no_transform, masking::no_lead_mask,
                                    pooled_contrastive_criterion<typename Config::scalar_type, cmsc_form::cross_segment, typename Config::backend_type>>;
template <class Config>
using cmsc_rlm_objective = objective_of<Config, data::no_transform, masking::random_lead_mask,
                                        pooled_contrastive_criterion<typename Config::scalar_type, cmsc_form::cross_segment, typename Config::backend_type>>;
template <class Config>
using simclr_rlm_objective = objective_of<Config, data::no_transform, masking::random_lead_mask,
                                          pooled_contrastive_criterion<typename Config::scalar_type, cmsc_form::nt_xent_2n, typename Config::backend_type>>;


/// 3KG's augmentation of one view (spec §4.5): VCG rotation ±45° and scaling 1.5, then the
/// per-lead time mask of ratio 0.5.
using three_kg_augmentation = signal::compose<signal::vcg_augmentation, signal::random_time_mask>;

/// 3KG's augmentation with other settings (the defaults are the reference's).
[[nodiscard]] inline three_kg_augmentation make_three_kg_augmentation(signal::vcg_augmentation_options vcg = {},
                                                                      double mask_ratio = 0.5) {
  return three_kg_augmentation(signal::vcg_augmentation(vcg), signal::random_time_mask(mask_ratio));
}

/// 3KG on two views of each segment (two_view_source).
template <class Config>
using three_kg_objective = objective_of<Config, three_kg_augmentation, masking::no_lead_mask,
                                        identity_nt_xent_criterion<typename Config::scalar_type, typename Config::backend_type>>;

/// Calls `visit.template operator()<Objective>(source, items_per_micro_batch)` with the
/// objective type of `method` on `Config` and the items it trains on, drawn from `data`:
/// consecutive pairs, single segments (W2V alone: 2P of them, as many segments as P pairs hold)
/// or two views of each segment (SimCLR+RLM, 3KG). The one place that maps a method to its
/// composition and data; every caller (the command, benchmarks, users' programs) goes through it.
template <class Config, class Visitor>
decltype(auto) with_pretrain_method(pretrain_method method, const data::wfdb_dataset& data, std::size_t batch_pairs,
                                    Visitor&& visit) {
  using views_t = data::two_view_source<data::record_source>;
  const std::size_t p = batch_pairs;
  const auto views = [&] { return std::make_shared<const views_t>(data.segments()); };
  switch (method) {
    case pretrain_method::w2v_cmsc_rlm: return visit.template operator()<w2v_cmsc_rlm_objective<Config>>(data.pairs(), p);
    case pretrain_method::w2v_cmsc: return visit.template operator()<w2v_cmsc_objective<Config>>(data.pairs(), p);
    case pretrain_method::w2v_cmsc_physio: return visit.template operator()<w2v_cmsc_physio_objective<Config>>(data.pairs(), p);
    case pretrain_method::w2v: return visit.template operator()<w2v_objective<Config>>(data.segments(), 2 * p);
    case pretrain_method::w2v_rlm: return visit.template operator()<w2v_rlm_objective<Config>>(data.segments(), 2 * p);
    case pretrain_method::cmsc: return visit.template operator()<cmsc_objective<Config>>(data.pairs(), p);
    case pretrain_method::cmsc_rlm: return visit.template operator()<cmsc_rlm_objective<Config>>(data.pairs(), p);
    case pretrain_method::simclr_rlm: return visit.template operator()<simclr_rlm_objective<Config>>(views(), p);
    // 3KG: two augmented views of P segments per micro-batch (2P segments, as P pairs)
    case pretrain_method::three_kg: return visit.template operator()<three_kg_objective<Config>>(views(), p);
  }
  throw config_error(at_field("method"), "an unlisted method value", std::string(pretrain_method_names));
}

}  // namespace ecgssl::pipeline

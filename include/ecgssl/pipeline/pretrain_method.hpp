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
/// 3KG (VCG rotation/scaling, spec §4.5) is not implemented.

#include <optional>
#include <string>
#include <string_view>

#include "../core/error.hpp"
#include "../data/batch_loader.hpp"
#include "../masking/no_lead_mask.hpp"
#include "../masking/random_lead_mask.hpp"
#include "../model/ecg_transformer.hpp"
#include "../signal/physio_augmentation.hpp"
#include "pooled_contrastive_criterion.hpp"
#include "pretrain_objective.hpp"
#include "w2v_cmsc_criterion.hpp"

namespace ecgssl::pipeline {

enum class pretrain_method { w2v, w2v_rlm, cmsc, cmsc_rlm, w2v_cmsc, w2v_cmsc_rlm, w2v_cmsc_physio, simclr_rlm };

inline constexpr std::string_view pretrain_method_names =
    "w2v_cmsc_rlm, w2v, w2v_rlm, cmsc, cmsc_rlm, w2v_cmsc, w2v_cmsc_physio, simclr_rlm";

/// Parses a method name (config_error listing the names otherwise; 3kg is refused as missing).
inline pretrain_method parse_pretrain_method(std::string_view name) {
  if (name == "w2v") return pretrain_method::w2v;
  if (name == "w2v_rlm") return pretrain_method::w2v_rlm;
  if (name == "cmsc") return pretrain_method::cmsc;
  if (name == "cmsc_rlm") return pretrain_method::cmsc_rlm;
  if (name == "w2v_cmsc") return pretrain_method::w2v_cmsc;
  if (name == "w2v_cmsc_rlm") return pretrain_method::w2v_cmsc_rlm;
  if (name == "w2v_cmsc_physio") return pretrain_method::w2v_cmsc_physio;
  if (name == "simclr_rlm") return pretrain_method::simclr_rlm;
  if (name == "3kg") {
    throw config_error(at_field("method"), "3kg is not implemented in this version (VCG rotation augmentation missing)",
                       std::string(pretrain_method_names));
  }
  throw config_error(at_field("method"), "unknown method '" + std::string(name) + "'", std::string(pretrain_method_names));
}

/// The Physio(4) augmentations of Table 4: powerline, EMG, baseline wander, baseline shift.
using physio_augmentations = signal::physio4;

template <class Config, class Transform, class Masking, class Criterion>
using objective_of = pretrain_objective<model::ecg_transformer<Config>, Transform, Masking, Criterion>;

template <class Config, bool Cmsc, class Masking, class Transform = data::no_transform>
using w2v_objective_t = objective_of<Config, Transform, Masking, w2v_cmsc_criterion<typename Config::scalar_type, Cmsc>>;

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
                                    pooled_contrastive_criterion<typename Config::scalar_type, cmsc_form::cross_segment>>;
template <class Config>
using cmsc_rlm_objective = objective_of<Config, data::no_transform, masking::random_lead_mask,
                                        pooled_contrastive_criterion<typename Config::scalar_type, cmsc_form::cross_segment>>;
template <class Config>
using simclr_rlm_objective = objective_of<Config, data::no_transform, masking::random_lead_mask,
                                          pooled_contrastive_criterion<typename Config::scalar_type, cmsc_form::nt_xent_2n>>;

}  // namespace ecgssl::pipeline

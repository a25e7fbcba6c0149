#pragma once
/// \file auc_scores.hpp
/// Areas under the ROC and precision-recall curves (spec §6.2).
///
/// `challenge_auc` follows the Challenge 2021 evaluate_model.py: per class, thresholds are the
/// distinct output values (plus one above the maximum), visited from high to low; AUROC is the
/// trapezoid area of specificity (TNR) against sensitivity (TPR), AUPRC the step area
/// Σ (TPR_j − TPR_{j−1}) · PPV_j. A class without positive labels has TPR = 0/0 = NaN at every
/// threshold, so both of its areas are NaN; a class without negative labels has a NaN AUROC (TNR
/// = 0/0) but a finite AUPRC. The macro values are the mean over the classes whose area is not
/// NaN (numpy nanmean), and NaN when every class is NaN.
///
/// `micro_auroc` / `micro_auprc` pool every (record, class) decision into one binary problem, as
/// scikit-learn's `average='micro'` does; fairseq-signals logs these. They are NaN when the pooled
/// labels are all 0 (both) or all 1 (AUROC), where scikit-learn raises instead.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include "../core/tensor.hpp"
#include "detail/metric_inputs.hpp"

namespace ecgssl::metrics {

/// Per-class and macro areas.
struct auc_scores {
  double macro_auroc = 0;
  double macro_auprc = 0;
  std::vector<double> auroc;  ///< per class (NaN where undefined, see above)
  std::vector<double> auprc;
};

namespace detail {

struct binary_areas {
  double auroc;
  double auprc;
};

/// Areas of one binary problem from (score, positive) pairs; reorders `items`.
inline binary_areas binary_auc(std::vector<std::pair<double, bool>>& items) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  double positives = 0;
  for (const auto& item : items) positives += item.second ? 1.0 : 0.0;
  const double negatives = static_cast<double>(items.size()) - positives;
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first > b.first; });

  // State at the threshold above every score: nothing predicted positive.
  double tp = 0;
  double fp = 0;
  double tpr = positives > 0 ? 0.0 : nan;
  double tnr = negatives > 0 ? 1.0 : nan;
  double auroc = 0;
  double auprc = 0;
  std::size_t i = 0;
  while (i < items.size()) {
    const double threshold = items[i].first;
    while (i < items.size() && items[i].first >= threshold) {  // the whole group of equal scores
      if (items[i].second) tp += 1; else fp += 1;
      ++i;
    }
    const double next_tpr = positives > 0 ? tp / positives : nan;
    const double next_tnr = negatives > 0 ? (negatives - fp) / negatives : nan;
    const double ppv = tp / (tp + fp);  // tp + fp >= 1 after the first group
    auroc += 0.5 * (next_tpr - tpr) * (next_tnr + tnr);
    auprc += (next_tpr - tpr) * ppv;
    tpr = next_tpr;
    tnr = next_tnr;
  }
  return {auroc, auprc};
}

template <class L, class S>
std::vector<std::pair<double, bool>> column(const tensor<L, 2>& labels, const tensor<S, 2>& outputs, std::size_t k) {
  std::vector<std::pair<double, bool>> items(labels.shape()[0]);
  for (std::size_t i = 0; i < items.size(); ++i) items[i] = {static_cast<double>(outputs(i, k)), labels(i, k) != L(0)};
  return items;
}

template <class L, class S>
void check_auc_inputs(const tensor<L, 2>& labels, const tensor<S, 2>& outputs) {
  require_same_shape(labels, "labels", outputs, "outputs");
  require_binary(labels, "labels");
  require_finite(outputs, "outputs");
}

}  // namespace detail

/// Per-class and macro AUROC / AUPRC as the Challenge 2021 computes them.
/// labels: [records, classes] 0/1; outputs: [records, classes] scores (probabilities or logits).
template <class L, class S>
[[nodiscard]] auc_scores challenge_auc(const tensor<L, 2>& labels, const tensor<S, 2>& outputs) {
  detail::check_auc_inputs(labels, outputs);
  const std::size_t classes = labels.shape()[1];
  auc_scores out;
  out.auroc.resize(classes);
  out.auprc.resize(classes);
  for (std::size_t k = 0; k < classes; ++k) {
    auto items = detail::column(labels, outputs, k);
    const auto areas = detail::binary_auc(items);
    out.auroc[k] = areas.auroc;
    out.auprc[k] = areas.auprc;
  }
  out.macro_auroc = detail::nan_mean(out.auroc);
  out.macro_auprc = detail::nan_mean(out.auprc);
  return out;
}

/// AUROC of all (record, class) pairs pooled (scikit-learn roc_auc_score(average='micro')).
template <class L, class S>
[[nodiscard]] double micro_auroc(const tensor<L, 2>& labels, const tensor<S, 2>& outputs) {
  detail::check_auc_inputs(labels, outputs);
  std::vector<std::pair<double, bool>> items;
  items.reserve(labels.size());
  for (std::size_t i = 0; i < labels.shape()[0]; ++i) {
    for (std::size_t k = 0; k < labels.shape()[1]; ++k) items.emplace_back(outputs(i, k), labels(i, k) != L(0));
  }
  return detail::binary_auc(items).auroc;
}

/// Average precision of all (record, class) pairs pooled (average_precision_score(average='micro')).
template <class L, class S>
[[nodiscard]] double micro_auprc(const tensor<L, 2>& labels, const tensor<S, 2>& outputs) {
  detail::check_auc_inputs(labels, outputs);
  std::vector<std::pair<double, bool>> items;
  items.reserve(labels.size());
  for (std::size_t i = 0; i < labels.shape()[0]; ++i) {
    for (std::size_t k = 0; k < labels.shape()[1]; ++k) items.emplace_back(outputs(i, k), labels(i, k) != L(0));
  }
  return detail::binary_auc(items).auprc;
}

}  // namespace ecgssl::metrics

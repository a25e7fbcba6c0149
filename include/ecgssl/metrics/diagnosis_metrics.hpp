#pragma once
/// \file diagnosis_metrics.hpp
/// Every arrhythmia-classification metric of spec §6.2 from one set of labels and probabilities:
/// decisions are `probability > threshold` (0.5, i.e. sigmoid(logit) > 0.5); the Challenge score,
/// accuracy and F-measure use the decisions, the areas use the probabilities.

#include <cstddef>

#include "../core/tensor.hpp"
#include "auc_scores.hpp"
#include "challenge_score.hpp"
#include "f_measure.hpp"

namespace ecgssl::metrics {

struct diagnosis_metrics {
  double challenge_score = 0;
  double macro_auroc = 0;
  double macro_auprc = 0;
  double micro_auroc = 0;
  double micro_auprc = 0;
  double accuracy = 0;    ///< exact-match fraction of records
  double macro_f_measure = 0;
  auc_scores per_class_auc;
  f_measure_scores per_class_f_measure;
};

/// labels: [records, 26] 0/1; probabilities: [records, 26].
template <class L, class S>
[[nodiscard]] diagnosis_metrics evaluate_diagnosis(const tensor<L, 2>& labels, const tensor<S, 2>& probabilities,
                                                   double threshold = 0.5) {
  detail::require_same_shape(labels, "labels", probabilities, "probabilities");
  detail::require_finite(probabilities, "probabilities");
  tensor<float, 2> decisions(probabilities.shape());
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    decisions.data()[i] = static_cast<double>(probabilities.data()[i]) > threshold ? 1.0f : 0.0f;
  }
  diagnosis_metrics out;
  out.challenge_score = compute_challenge_score(labels, decisions);
  out.per_class_auc = challenge_auc(labels, probabilities);
  out.macro_auroc = out.per_class_auc.macro_auroc;
  out.macro_auprc = out.per_class_auc.macro_auprc;
  out.micro_auroc = micro_auroc(labels, probabilities);
  out.micro_auprc = micro_auprc(labels, probabilities);
  out.accuracy = exact_match_accuracy(labels, decisions);
  out.per_class_f_measure = challenge_f_measure(labels, decisions);
  out.macro_f_measure = out.per_class_f_measure.macro;
  return out;
}

}  // namespace ecgssl::metrics

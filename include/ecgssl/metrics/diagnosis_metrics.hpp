#pragma once
/// \file diagnosis_metrics.hpp
/// Every arrhythmia-classification metric of spec §6.2 from one set of labels and probabilities:
/// decisions are `probability > threshold` (0.5, i.e. sigmoid(logit) > 0.5); the Challenge score,
/// accuracy and F-measure use the decisions, the areas use the probabilities. The Challenge score
/// weighs the 26 Challenge classes against each other (metrics/challenge_score.hpp); for any other
/// class set (PTB-XL's superclasses) it is not computed and the areas are the headline.

#include <cstddef>

#include "../core/tensor.hpp"
#include "auc_scores.hpp"
#include "challenge_score.hpp"
#include "f_measure.hpp"

namespace ecgssl::metrics {

/// What the label columns are: the 26 Challenge classes, or another class set.
enum class class_set { challenge, other };

struct diagnosis_metrics {
  bool challenge_scored = true;  ///< false for class_set::other: challenge_score is then 0, not a score
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

/// labels: [records, classes] 0/1; probabilities: [records, classes] (26 for class_set::challenge).
template <class L, class S>
[[nodiscard]] diagnosis_metrics evaluate_diagnosis(const tensor<L, 2>& labels, const tensor<S, 2>& probabilities,
                                                   double threshold = 0.5, class_set classes = class_set::challenge) {
  detail::require_same_shape(labels, "labels", probabilities, "probabilities");
  detail::require_finite(probabilities, "probabilities");
  tensor<float, 2> decisions(probabilities.shape());
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    decisions.data()[i] = static_cast<double>(probabilities.data()[i]) > threshold ? 1.0f : 0.0f;
  }
  diagnosis_metrics out;
  out.challenge_scored = classes == class_set::challenge;
  if (out.challenge_scored) out.challenge_score = compute_challenge_score(labels, decisions);
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

#pragma once
/// \file f_measure.hpp
/// Per-class and macro F-measure as the Challenge 2021 evaluate_model.py computes it (spec §6.2
/// logs it beside the Challenge score): per class k, F_k = 2TP / (2TP + FP + FN) over the 0/1
/// decisions; a class with 2TP + FP + FN = 0 (never labelled, never predicted) has F_k = NaN and
/// is left out of the macro mean (numpy nanmean); the macro value is NaN if every class is.

#include <cstddef>
#include <limits>
#include <vector>

#include "../core/tensor.hpp"
#include "detail/metric_inputs.hpp"

namespace ecgssl::metrics {

struct f_measure_scores {
  double macro = 0;
  std::vector<double> per_class;  ///< NaN where 2TP + FP + FN = 0
};

/// labels, predictions: [records, classes] of 0/1.
template <class L, class P>
[[nodiscard]] f_measure_scores challenge_f_measure(const tensor<L, 2>& labels, const tensor<P, 2>& predictions) {
  detail::require_same_shape(labels, "labels", predictions, "predictions");
  detail::require_binary(labels, "labels");
  detail::require_binary(predictions, "predictions");
  const std::size_t records = labels.shape()[0];
  const std::size_t classes = labels.shape()[1];
  f_measure_scores out;
  out.per_class.resize(classes);
  for (std::size_t k = 0; k < classes; ++k) {
    double tp = 0, fp = 0, fn = 0;
    for (std::size_t i = 0; i < records; ++i) {
      const bool l = labels(i, k) != L(0);
      const bool p = predictions(i, k) != P(0);
      tp += (l && p) ? 1 : 0;
      fp += (!l && p) ? 1 : 0;
      fn += (l && !p) ? 1 : 0;
    }
    const double denominator = 2 * tp + fp + fn;
    out.per_class[k] = denominator > 0 ? 2 * tp / denominator : std::numeric_limits<double>::quiet_NaN();
  }
  out.macro = detail::nan_mean(out.per_class);
  return out;
}

/// The Challenge's accuracy: the fraction of records whose whole label vector is predicted
/// exactly (every class right). labels, predictions: [records, classes] of 0/1.
template <class L, class P>
[[nodiscard]] double exact_match_accuracy(const tensor<L, 2>& labels, const tensor<P, 2>& predictions) {
  detail::require_same_shape(labels, "labels", predictions, "predictions");
  detail::require_binary(labels, "labels");
  detail::require_binary(predictions, "predictions");
  const std::size_t records = labels.shape()[0];
  std::size_t correct = 0;
  for (std::size_t i = 0; i < records; ++i) {
    bool all = true;
    for (std::size_t k = 0; k < labels.shape()[1] && all; ++k) all = (labels(i, k) != L(0)) == (predictions(i, k) != P(0));
    correct += all ? 1 : 0;
  }
  return static_cast<double>(correct) / static_cast<double>(records);
}

}  // namespace ecgssl::metrics

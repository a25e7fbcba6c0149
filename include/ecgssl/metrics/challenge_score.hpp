#pragma once
/// \file challenge_score.hpp
/// The PhysioNet/CinC Challenge 2021 score (spec §6.2, official evaluate_model.py): for each
/// record i, n_i = max(1, |labels_i ∪ preds_i|) and A[j, k] += 1/n_i for every true class j and
/// predicted class k; S(outputs) = Σ_jk W_jk A_jk with W the Challenge's 26x26 weight matrix.
/// The score is (S(pred) − S(inactive)) / (S(labels) − S(inactive)), where "inactive" predicts
/// only sinus rhythm (NSR, class 14), and 0 when that denominator is 0. The three A matrices are
/// sums over records, so `add` can be called once per batch and `value` gives the score of the
/// whole set (as the fine-tuning loop accumulates over test batches).

#include <cstddef>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../io/challenge_labels.hpp"
#include "detail/metric_inputs.hpp"

namespace ecgssl::metrics {

/// Accumulates the modified confusion matrices of the Challenge score over batches.
class challenge_score {
 public:
  /// The Challenge 2021 setting: 26 classes, weights.csv, NSR inactive.
  challenge_score() : challenge_score(default_weights(), io::challenge_class_count, io::sinus_rhythm_class) {}

  /// Any class count: `weights` row-major [classes, classes] (rows = labels, columns = outputs).
  challenge_score(std::vector<double> weights, std::size_t classes, std::size_t inactive_class)
      : weights_(std::move(weights)), classes_(classes), inactive_(inactive_class) {
    if (classes_ == 0) throw config_error(at_field("classes"), "no classes", "at least one class");
    if (weights_.size() != classes_ * classes_) {
      throw shape_error(at_field("weights"), std::to_string(weights_.size()) + " entries",
                        std::to_string(classes_ * classes_) + " (classes x classes)");
    }
    if (inactive_ >= classes_) {
      throw config_error(at_field("inactive_class"), "index " + std::to_string(inactive_) + " out of range",
                         "an index below " + std::to_string(classes_));
    }
    reset();
  }

  void reset() {
    observed_.assign(classes_ * classes_, 0.0);
    correct_.assign(classes_ * classes_, 0.0);
    inactive_matrix_.assign(classes_ * classes_, 0.0);
    records_ = 0;
  }

  /// labels, predictions: [records, classes] of 0/1 (data_error otherwise).
  template <class L, class P>
  void add(const tensor<L, 2>& labels, const tensor<P, 2>& predictions) {
    detail::require_same_shape(labels, "labels", predictions, "predictions");
    if (labels.shape()[1] != classes_) {
      throw shape_error(at_field("labels"), "shape " + shape_string(labels.shape()),
                        "[records, " + std::to_string(classes_) + "]");
    }
    detail::require_binary(labels, "labels");
    detail::require_binary(predictions, "predictions");
    std::vector<std::size_t> label_set;
    std::vector<std::size_t> pred_set;
    for (std::size_t i = 0; i < labels.shape()[0]; ++i) {
      label_set.clear();
      pred_set.clear();
      std::size_t union_size = 0;
      for (std::size_t c = 0; c < classes_; ++c) {
        const bool l = labels(i, c) != L(0);
        const bool p = predictions(i, c) != P(0);
        if (l) label_set.push_back(c);
        if (p) pred_set.push_back(c);
        if (l || p) ++union_size;
      }
      accumulate(observed_, label_set, pred_set, union_size);
      accumulate(correct_, label_set, label_set, label_set.size());
      const bool inactive_labelled = labels(i, inactive_) != L(0);
      const std::vector<std::size_t> inactive_only{inactive_};
      accumulate(inactive_matrix_, label_set, inactive_only, label_set.size() + (inactive_labelled ? 0 : 1));
      ++records_;
    }
  }

  /// The normalised score over everything added so far (0 when S(labels) == S(inactive)).
  [[nodiscard]] double value() const {
    const double observed = observed_score();
    const double correct = correct_score();
    const double inactive = inactive_score();
    if (correct == inactive) return 0.0;
    return (observed - inactive) / (correct - inactive);
  }

  [[nodiscard]] double observed_score() const { return weighted_sum(observed_); }  ///< S(pred)
  [[nodiscard]] double correct_score() const { return weighted_sum(correct_); }    ///< S(labels)
  [[nodiscard]] double inactive_score() const { return weighted_sum(inactive_matrix_); }  ///< S(inactive)
  /// The modified confusion matrix A of the predictions, row-major [classes (labels), classes (outputs)].
  [[nodiscard]] const std::vector<double>& confusion() const { return observed_; }
  [[nodiscard]] std::size_t records() const { return records_; }
  [[nodiscard]] std::size_t classes() const { return classes_; }

 private:
  static std::vector<double> default_weights() {
    std::vector<double> w;
    w.reserve(io::challenge_class_count * io::challenge_class_count);
    for (const auto& row : io::challenge_weights()) w.insert(w.end(), row.begin(), row.end());
    return w;
  }

  void accumulate(std::vector<double>& a, const std::vector<std::size_t>& rows, const std::vector<std::size_t>& cols,
                  std::size_t union_size) const {
    const double share = 1.0 / static_cast<double>(union_size > 0 ? union_size : 1);
    for (const auto j : rows) {
      for (const auto k : cols) a[j * classes_ + k] += share;
    }
  }

  [[nodiscard]] double weighted_sum(const std::vector<double>& a) const {
    double s = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) s += weights_[i] * a[i];
    return s;
  }

  std::vector<double> weights_;
  std::size_t classes_;
  std::size_t inactive_;
  std::vector<double> observed_;
  std::vector<double> correct_;
  std::vector<double> inactive_matrix_;
  std::size_t records_ = 0;
};

/// The Challenge 2021 score of one set of [records, 26] 0/1 labels and predictions.
template <class L, class P>
[[nodiscard]] double compute_challenge_score(const tensor<L, 2>& labels, const tensor<P, 2>& predictions) {
  challenge_score score;
  score.add(labels, predictions);
  return score.value();
}

}  // namespace ecgssl::metrics

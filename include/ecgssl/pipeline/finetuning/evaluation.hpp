#pragma once
/// \file evaluation.hpp
/// Evaluation of a fine-tuned model (spec §6.2, §6.3, §7 Table 1's P-N-lead columns):
///  - arrhythmia: per-segment probabilities sigmoid(logit), decisions > 0.5, the Challenge score
///    and the other metrics of metrics::evaluate_diagnosis (the reference evaluates segments);
///    record probabilities = mean over the record's segments (for `ecgssl predict`);
///  - identification: gallery = first segment, probe = second segment of each identity, top-1
///    cosine retrieval on the pooled embeddings;
///  - any lead set with zero fill, and one call for several lead sets;
///  - 95% intervals of the arrhythmia metrics by the bootstrap over records.
/// A model on cuda reads its store's device mirror: evaluate inside finetuner::fit (its
/// training_backend) or while a inference_parameters of the store lives.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "../../core/error.hpp"
#include "../../core/tensor.hpp"
#include "../../io/lead_set.hpp"
#include "../../metrics/bootstrap.hpp"
#include "../../metrics/diagnosis_metrics.hpp"
#include "../../metrics/identification.hpp"
#include "finetune_model.hpp"
#include "../../data/segment_set.hpp"

namespace ecgssl::pipeline {

/// The lead sets of the paper's Table 1 columns, in order.
inline std::vector<std::string> paper_lead_sets() { return {"12", "6", "3", "2", "1"}; }

/// Per-segment class probabilities [N, classes] of `set` seen through `leads` (zero fill).
template <class T, class B>
tensor<float, 2> predict_probabilities(finetune_model<T, B>& model, const data::segment_set& set, const io::lead_set& leads,
                                       std::size_t batch_size = 32) {
  model.set_training(false);
  const std::size_t n = set.size();
  const std::size_t classes = model.options().classes;
  tensor<float, 2> out = tensor<float, 2>::from_shape({n, classes});
  tensor<T, 3> batch;
  std::vector<std::size_t> items;
  for (std::size_t start = 0; start < n; start += batch_size) {
    items.clear();
    for (std::size_t i = start; i < std::min(n, start + batch_size); ++i) items.push_back(i);
    set.gather(std::span<const std::size_t>(items), leads, batch);
    const tensor<T, 2>& logits = model.on_host(model.logits(batch));
    for (std::size_t r = 0; r < items.size(); ++r) {
      for (std::size_t c = 0; c < classes; ++c) {
        const double x = static_cast<double>(logits(r, c));
        out(items[r], c) = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
      }
    }
  }
  return out;
}

/// Pooled embeddings [N, D] of `set` through `leads`.
template <class T, class B>
tensor<T, 2> embed_segments(finetune_model<T, B>& model, const data::segment_set& set, const io::lead_set& leads,
                            std::size_t batch_size = 32) {
  model.set_training(false);
  const std::size_t n = set.size();
  tensor<T, 2> out = tensor<T, 2>::from_shape({n, model.dim()});
  tensor<T, 3> batch;
  std::vector<std::size_t> items;
  for (std::size_t start = 0; start < n; start += batch_size) {
    items.clear();
    for (std::size_t i = start; i < std::min(n, start + batch_size); ++i) items.push_back(i);
    set.gather(std::span<const std::size_t>(items), leads, batch);
    const tensor<T, 2>& pooled = model.on_host(model.embed(batch));
    std::copy(pooled.begin(), pooled.end(), out.data() + start * model.dim());
  }
  return out;
}

/// The class set of a multi-label task's columns.
inline metrics::class_set class_set_of(finetune_task task) {
  return task == finetune_task::arrhythmia ? metrics::class_set::challenge : metrics::class_set::other;
}

/// Segment-level metrics of a multi-label model (arrhythmia: spec §6.2; superclass: the same
/// metrics without the Challenge score).
template <class T, class B>
metrics::diagnosis_metrics evaluate_arrhythmia(finetune_model<T, B>& model, const data::segment_set& set, const io::lead_set& leads,
                                               std::size_t batch_size = 32) {
  if (set.size() == 0) throw data_error(at_field("evaluation set"), "no segment", "at least one labelled segment");
  return metrics::evaluate_diagnosis(set.labels, predict_probabilities(model, set, leads, batch_size), 0.5,
                                     class_set_of(model.options().task));
}

/// A multi-label task's headline metric from its metrics: the Challenge score or macro AUROC.
inline double headline_metric(finetune_task task, const metrics::diagnosis_metrics& m) {
  return task == finetune_task::arrhythmia ? m.challenge_score : m.macro_auroc;
}

/// Gallery (first segment) and probe (second segment) rows of each identity with >= 2 segments,
/// in order of first appearance (spec §6.3).
struct gallery_probe {
  std::vector<std::size_t> gallery, probe;
  std::vector<std::int64_t> ids;
};
inline gallery_probe make_gallery_probe(const data::segment_set& set) {
  std::unordered_map<std::int64_t, std::vector<std::size_t>> by_id;
  std::vector<std::int64_t> order;
  for (std::size_t i = 0; i < set.size(); ++i) {
    auto& v = by_id[set.identities[i]];
    if (v.empty()) order.push_back(set.identities[i]);
    v.push_back(i);
  }
  gallery_probe out;
  for (auto id : order) {
    const auto& v = by_id[id];
    if (v.size() < 2) continue;
    out.gallery.push_back(v[0]);
    out.probe.push_back(v[1]);
    out.ids.push_back(id);
  }
  return out;
}

/// Top-1 identification accuracy of `set`'s identities through `leads` (spec §6.3).
template <class T, class B>
double evaluate_identification(finetune_model<T, B>& model, const data::segment_set& set, const io::lead_set& leads,
                               std::size_t batch_size = 32) {
  const gallery_probe gp = make_gallery_probe(set);
  if (gp.ids.empty()) {
    throw data_error(at_field("identification set"), "no identity has two segments",
                     "held-out identities with at least two segments (gallery and probe)");
  }
  const auto gallery = embed_segments(model, set.subset(gp.gallery), leads, batch_size);
  const auto probe = embed_segments(model, set.subset(gp.probe), leads, batch_size);
  return metrics::identification_top1(gallery, std::span<const std::int64_t>(gp.ids), probe,
                                      std::span<const std::int64_t>(gp.ids))
      .top1;
}

/// One lead set's evaluation.
struct lead_set_evaluation {
  std::string name;   ///< as requested ("12", "I,II", ...)
  io::lead_set leads;
  double score = 0;   ///< Challenge score (arrhythmia), macro AUROC (superclass) or top-1 accuracy (identification)
  metrics::diagnosis_metrics diagnosis;  ///< multi-label tasks only
  tensor<float, 2> probabilities;        ///< multi-label tasks only: per segment [N, classes], for intervals
};

/// Evaluates the model on every lead set in `names` (io::lead_set::parse names), in order.
template <class T, class B>
std::vector<lead_set_evaluation> evaluate_lead_sets(finetune_model<T, B>& model, const data::segment_set& set,
                                                    const std::vector<std::string>& names, std::size_t batch_size = 32) {
  std::vector<lead_set_evaluation> out;
  for (const auto& name : names) {
    lead_set_evaluation e{name, io::lead_set::parse(name), 0.0, {}, {}};
    const finetune_task task = model.options().task;
    if (is_multilabel(task)) {
      if (set.size() == 0) throw data_error(at_field("evaluation set"), "no segment", "at least one labelled segment");
      e.probabilities = predict_probabilities(model, set, e.leads, batch_size);
      e.diagnosis = metrics::evaluate_diagnosis(set.labels, e.probabilities, 0.5, class_set_of(task));
      e.score = headline_metric(task, e.diagnosis);
    } else {
      e.score = evaluate_identification(model, set, e.leads, batch_size);
    }
    out.push_back(std::move(e));
  }
  return out;
}

/// The names of bootstrap_arrhythmia's intervals, in order (the columns of `ecgssl evaluate`).
inline std::vector<std::string> interval_names(metrics::class_set classes) {
  if (classes == metrics::class_set::challenge) return {"challenge_score", "auroc", "auprc", "accuracy", "f_measure"};
  return {"auroc", "auprc", "accuracy", "f_measure"};
}

/// A multi-label model's 95% intervals by the bootstrap over records (metrics/bootstrap.hpp):
/// each resample draws records with replacement and takes all their segments, so the segments of
/// one record are never split between "in" and "out". Order: interval_names(classes).
inline std::vector<metrics::bootstrap_interval> bootstrap_arrhythmia(const data::segment_set& set, const tensor<float, 2>& probabilities,
                                                                     std::size_t resamples, std::uint64_t seed,
                                                                     metrics::class_set class_kind = metrics::class_set::challenge) {
  std::map<std::string, std::size_t> index;
  std::vector<std::vector<std::size_t>> segments_of;
  for (std::size_t i = 0; i < set.size(); ++i) {
    const auto [it, added] = index.emplace(set.record_ids[i], segments_of.size());
    if (added) segments_of.emplace_back();
    segments_of[it->second].push_back(i);
  }
  const std::size_t classes = probabilities.shape()[1];
  tensor<float, 2> labels, probs;
  return metrics::bootstrap_each(
      segments_of.size(),
      [&](std::span<const std::uint32_t> records) {
        std::size_t rows = 0;
        for (const auto r : records) rows += segments_of[r].size();
        labels.resize({rows, classes});
        probs.resize({rows, classes});
        std::size_t row = 0;
        for (const auto r : records) {
          for (const auto i : segments_of[r]) {
            for (std::size_t c = 0; c < classes; ++c) {
              labels(row, c) = static_cast<float>(set.labels(i, c));
              probs(row, c) = probabilities(i, c);
            }
            ++row;
          }
        }
        const auto m = metrics::evaluate_diagnosis(labels, probs, 0.5, class_kind);
        std::vector<double> values{m.macro_auroc, m.macro_auprc, m.accuracy, m.macro_f_measure};
        if (m.challenge_scored) values.insert(values.begin(), m.challenge_score);
        return values;
      },
      resamples, seed);
}

/// Record-level probabilities: the mean over each record's segments (records in order of first
/// appearance). probabilities: [segments, classes] -> [records, classes].
inline tensor<float, 2> mean_by_record(const tensor<float, 2>& probabilities, const std::vector<std::string>& record_ids,
                                       std::vector<std::string>& records_out) {
  if (record_ids.size() != probabilities.shape()[0]) {
    throw shape_error(at_field("record_ids"), std::to_string(record_ids.size()) + " ids",
                      std::to_string(probabilities.shape()[0]) + " (one per segment)");
  }
  std::map<std::string, std::size_t> index;
  records_out.clear();
  for (const auto& r : record_ids) {
    if (index.emplace(r, records_out.size()).second) records_out.push_back(r);
  }
  const std::size_t classes = probabilities.shape()[1];
  tensor<double, 2> sum = xt::zeros<double>({records_out.size(), classes});
  std::vector<std::size_t> count(records_out.size(), 0);
  for (std::size_t i = 0; i < record_ids.size(); ++i) {
    const std::size_t r = index[record_ids[i]];
    ++count[r];
    for (std::size_t c = 0; c < classes; ++c) sum(r, c) += probabilities(i, c);
  }
  tensor<float, 2> out = tensor<float, 2>::from_shape({records_out.size(), classes});
  for (std::size_t r = 0; r < records_out.size(); ++r) {
    for (std::size_t c = 0; c < classes; ++c) out(r, c) = static_cast<float>(sum(r, c) / static_cast<double>(count[r]));
  }
  return out;
}

}  // namespace ecgssl::pipeline

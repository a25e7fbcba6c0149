#pragma once
/// \file output_scores.hpp
/// The Challenge 2021 metrics of a set of classifier outputs: from arrays, or from a folder of
/// label headers (#Dx lines) and a folder of Challenge output files (`<record>.csv`,
/// io/challenge_output.hpp), as the official evaluation script pairs them. Records without an
/// output file count as all-negative with zero probabilities, as there.

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../io/challenge_labels.hpp"
#include "../io/challenge_output.hpp"
#include "../io/manifest.hpp"
#include "../io/wfdb_header.hpp"
#include "auc_scores.hpp"
#include "challenge_score.hpp"
#include "f_measure.hpp"

namespace ecgssl::metrics {

/// The Challenge metrics of one folder of outputs.
struct output_scores {
  double challenge_score = 0;
  double auroc = 0;     ///< macro over classes with a defined area
  double auprc = 0;
  double accuracy = 0;  ///< exact match
  double f_measure = 0; ///< macro
  std::vector<double> class_auroc, class_auprc, class_f_measure;  ///< per class (NaN if undefined)
  std::size_t records = 0;
  std::size_t missing_outputs = 0;

  [[nodiscard]] nlohmann::json to_json() const {
    const auto num = [](double v) { return v == v ? nlohmann::json(v) : nlohmann::json(nullptr); };
    nlohmann::json j;
    j["challenge_score"] = num(challenge_score);
    j["auroc"] = num(auroc);
    j["auprc"] = num(auprc);
    j["accuracy"] = num(accuracy);
    j["f_measure"] = num(f_measure);
    j["records"] = records;
    j["missing_outputs"] = missing_outputs;
    nlohmann::json classes = nlohmann::json::object();
    for (std::size_t c = 0; c < class_auroc.size(); ++c) {
      classes[std::string(io::challenge_class_abbreviation(c))] = {
          {"codes", std::string(io::challenge_class_codes(c))},
          {"auroc", num(class_auroc[c])},
          {"auprc", num(class_auprc[c])},
          {"f_measure", num(class_f_measure[c])}};
    }
    j["classes"] = classes;
    return j;
  }
};

/// Metrics from labels [records, 26], binary decisions and probabilities of the same shape.
inline output_scores score_outputs(const tensor<float, 2>& labels, const tensor<float, 2>& decisions,
                                 const tensor<float, 2>& probabilities) {
  output_scores r;
  r.records = labels.shape()[0];
  r.challenge_score = compute_challenge_score(labels, decisions);
  const auto auc = challenge_auc(labels, probabilities);
  r.auroc = auc.macro_auroc;
  r.auprc = auc.macro_auprc;
  r.class_auroc = auc.auroc;
  r.class_auprc = auc.auprc;
  const auto f = challenge_f_measure(labels, decisions);
  r.f_measure = f.macro;
  r.class_f_measure = f.per_class;
  r.accuracy = exact_match_accuracy(labels, decisions);
  return r;
}

/// Scores every label header under `labels_dir` against `<outputs_dir>/<record>.csv`.
inline output_scores score_output_folder(const std::filesystem::path& labels_dir, const std::filesystem::path& outputs_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(outputs_dir, ec)) {
    throw io_error(in_file(outputs_dir.string()), "no such folder", "a folder of Challenge output files (.csv)");
  }
  const auto headers = io::find_files(labels_dir, ".hea");
  if (headers.empty()) {
    throw data_error(in_file(labels_dir.string()), "the folder holds no WFDB header (.hea)",
                     "a folder of label headers with #Dx lines");
  }
  const std::size_t n = headers.size();
  const std::size_t k = io::challenge_class_count;
  tensor<float, 2> labels = xt::zeros<float>({n, k});
  tensor<float, 2> decisions = xt::zeros<float>({n, k});
  tensor<float, 2> probabilities = xt::zeros<float>({n, k});
  std::size_t missing = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const io::wfdb_header h = io::read_wfdb_header(headers[i].string());
    const auto dx = h.comment_value("Dx");
    if (!dx) {
      throw data_error(in_file(headers[i].string(), "#Dx"), "the header has no #Dx line",
                       "a label header with '#Dx: <SNOMED codes>'");
    }
    const auto y = io::make_challenge_labels(*dx, in_file(headers[i].string(), "#Dx"));
    std::copy(y.begin(), y.end(), labels.data() + i * k);
    const std::filesystem::path out_file = outputs_dir / (headers[i].stem().string() + ".csv");
    if (!std::filesystem::exists(out_file, ec)) {
      ++missing;
      continue;
    }
    const auto o = io::challenge_output::load(out_file);
    std::copy(o.decisions.begin(), o.decisions.end(), decisions.data() + i * k);
    std::copy(o.probabilities.begin(), o.probabilities.end(), probabilities.data() + i * k);
  }
  output_scores r = score_outputs(labels, decisions, probabilities);
  r.missing_outputs = missing;
  return r;
}

}  // namespace ecgssl::metrics

#pragma once
/// \file score.hpp
/// `ecgssl score --labels DIR --outputs DIR [--json]`: the PhysioNet/CinC Challenge 2021
/// evaluation (spec §6.2) of a folder of classifier output files (pipeline/challenge_output.hpp)
/// against the #Dx codes of the label headers (every .hea under --labels, recursively).
/// A label record without an output file counts as "nothing predicted, probability 0", as the
/// Challenge's evaluate_model.py does; their number is reported.
///
/// Metrics: challenge_score (from the binary outputs), auroc and auprc (macro over classes, from
/// the probabilities), accuracy (exact match of the binary outputs) and f_measure (macro), and per
/// class auroc, auprc and f_measure. JSON keys: challenge_score, auroc, auprc, accuracy,
/// f_measure, records, missing_outputs, classes (an object keyed by class abbreviation).

#include <ecgssl/core/error.hpp>
#include <ecgssl/io/challenge_labels.hpp>
#include <ecgssl/io/manifest.hpp>
#include <ecgssl/io/wfdb_header.hpp>
#include <ecgssl/metrics/auc_scores.hpp>
#include <ecgssl/metrics/challenge_score.hpp>
#include <ecgssl/metrics/f_measure.hpp>
#include <ecgssl/pipeline/challenge_output.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "detail/cli11_run.hpp"
#include "detail/format.hpp"

namespace ecgssl::cli {

/// The Challenge metrics of one folder of outputs.
struct score_result {
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
inline score_result score_arrays(const tensor<float, 2>& labels, const tensor<float, 2>& decisions,
                                 const tensor<float, 2>& probabilities) {
  score_result r;
  r.records = labels.shape()[0];
  r.challenge_score = metrics::compute_challenge_score(labels, decisions);
  const auto auc = metrics::challenge_auc(labels, probabilities);
  r.auroc = auc.macro_auroc;
  r.auprc = auc.macro_auprc;
  r.class_auroc = auc.auroc;
  r.class_auprc = auc.auprc;
  const auto f = metrics::challenge_f_measure(labels, decisions);
  r.f_measure = f.macro;
  r.class_f_measure = f.per_class;
  r.accuracy = metrics::exact_match_accuracy(labels, decisions);
  return r;
}

/// Scores every label header under `labels_dir` against `<outputs_dir>/<record>.csv`.
inline score_result score_folders(const std::filesystem::path& labels_dir, const std::filesystem::path& outputs_dir) {
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
    const auto o = pipeline::challenge_output::load(out_file);
    std::copy(o.decisions.begin(), o.decisions.end(), decisions.data() + i * k);
    std::copy(o.probabilities.begin(), o.probabilities.end(), probabilities.data() + i * k);
  }
  score_result r = score_arrays(labels, decisions, probabilities);
  r.missing_outputs = missing;
  return r;
}

/// `ecgssl score`; see the file comment.
inline int run_score(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{"Challenge 2021 metrics of classifier output files against label headers", "ecgssl score"};
  std::string labels_dir, outputs_dir;
  bool json = false;
  app.add_option("--labels", labels_dir, "folder of label headers (.hea with #Dx), searched recursively")->required();
  app.add_option("--outputs", outputs_dir, "folder of output files <record>.csv (ecgssl predict)")->required();
  app.add_flag("--json", json, "print one JSON object");
  return detail::run_cli11(app, args, out, err, [&]() -> int {
  const score_result r = score_folders(labels_dir, outputs_dir);
  if (json) {
    out << r.to_json().dump() << "\n";
    return 0;
  }
  out << "records          " << r.records;
  if (r.missing_outputs > 0) out << " (" << r.missing_outputs << " without an output file: scored as no prediction)";
  out << "\nchallenge_score  " << detail::fixed4(r.challenge_score) << "\nauroc            " << detail::fixed4(r.auroc)
      << "\nauprc            " << detail::fixed4(r.auprc) << "\naccuracy         " << detail::fixed4(r.accuracy)
      << "\nf_measure        " << detail::fixed4(r.f_measure) << "\n\nclass        auroc   auprc   f_measure\n";
  for (std::size_t c = 0; c < r.class_auroc.size(); ++c) {
    std::string name(io::challenge_class_abbreviation(c));
    name.resize(std::max<std::size_t>(name.size(), 12), ' ');
    out << name << " " << detail::fixed4(r.class_auroc[c]) << "  " << detail::fixed4(r.class_auprc[c]) << "  "
        << detail::fixed4(r.class_f_measure[c]) << "\n";
  }
  return 0;
  });
}

}  // namespace ecgssl::cli

/// \file score.cpp
/// `ecgssl score --labels DIR --outputs DIR [--json]`: the PhysioNet/CinC Challenge 2021
/// evaluation (spec §6.2) of a folder of classifier output files (io/challenge_output.hpp)
/// against the #Dx codes of the label headers (every .hea under --labels, recursively).
/// A label record without an output file counts as "nothing predicted, probability 0", as the
/// Challenge's evaluate_model.py does; their number is reported.
///
/// Metrics: challenge_score (from the binary outputs), auroc and auprc (macro over classes, from
/// the probabilities), accuracy (exact match of the binary outputs) and f_measure (macro), and per
/// class auroc, auprc and f_measure. JSON keys: challenge_score, auroc, auprc, accuracy,
/// f_measure, records, missing_outputs, classes (an object keyed by class abbreviation).

#include <ecgssl/core/error.hpp>
#include <ecgssl/metrics/output_scores.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "detail/cli11_run.hpp"
#include "detail/format.hpp"

namespace ecgssl::cli {

/// `ecgssl score`; see the file comment.
int run_score(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{"Challenge 2021 metrics of classifier output files against label headers", "ecgssl score"};
  std::string labels_dir, outputs_dir;
  bool json = false;
  app.add_option("--labels", labels_dir, "folder of label headers (.hea with #Dx), searched recursively")->required();
  app.add_option("--outputs", outputs_dir, "folder of output files <record>.csv (ecgssl predict)")->required();
  app.add_flag("--json", json, "print one JSON object");
  return detail::run_cli11(app, args, out, err, [&]() -> int {
  const metrics::output_scores r = metrics::score_output_folder(labels_dir, outputs_dir);
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

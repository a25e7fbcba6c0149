// ecgssl score: Challenge metrics of hand-written output files against real label headers.
#include "commands.hpp"
#include <ecgssl/io/challenge_labels.hpp>
#include <ecgssl/io/challenge_output.hpp>
#include <ecgssl/io/wfdb_header.hpp>
#include <ecgssl/metrics/challenge_score.hpp>
#include <ecgssl/metrics/output_scores.hpp>
#include <nlohmann/json.hpp>
#include <doctest/doctest.h>


#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("ecgssl_test_score_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir / "labels");
  fs::create_directories(dir / "outputs");
  return dir;
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

// A0002 is labelled NSR (426783006), A0003 AF (164889003): real Challenge 2020 headers.
fs::path labels_for(const std::string& name) {
  const fs::path dir = fresh_dir(name);
  for (const char* r : {"A0002", "A0003"}) {
    fs::copy_file(fs::path(ECGSSL_SOURCE_DIR) / "examples/data/cinc" / (std::string(r) + ".hea"),
                  dir / "labels" / (std::string(r) + ".hea"));
  }
  return dir;
}

}  // namespace

TEST_CASE("score: hand-computed Challenge score, accuracy and F-measure") {
  const fs::path dir = labels_for("hand");
  // A0002 (NSR) predicted NSR; A0003 (AF) predicted AF and AFL. Only three classes listed.
  write(dir / "outputs/A0002.csv", "#A0002\n164889003,164890007,426783006\n0,0,1\n0.2,0.1,0.8\n");
  write(dir / "outputs/A0003.csv", "#A0003\n164889003,164890007,426783006\n1,1,0\n0.9,0.7,0.1\n");
  const auto r = ecgssl::metrics::score_output_folder(dir / "labels", dir / "outputs");
  // weights.csv: W(AF,AF)=1, W(AF,AFL)=0.5, W(AF,NSR)=0.25.
  // S(pred) = 1 (A0002) + 0.5*1 + 0.5*0.5 = 1.75; S(labels) = 2; S(inactive) = 1 + 0.5*0.25 = 1.125.
  CHECK(r.challenge_score == doctest::Approx(0.625 / 0.875).epsilon(1e-12));
  CHECK(r.accuracy == doctest::Approx(0.5));
  // F: AF 1, AFL 0 (one false positive), NSR 1, other classes undefined -> macro 2/3.
  CHECK(r.f_measure == doctest::Approx(2.0 / 3.0));
  CHECK(r.class_auroc[0] == doctest::Approx(1.0));  // AF: 0.9 (positive) above 0.2
  CHECK(std::isnan(r.class_auroc[1]));              // AFL: no positive record
  CHECK(r.records == 2);
  CHECK(r.missing_outputs == 0);
}

TEST_CASE("score: perfect outputs give 1, sinus rhythm only gives 0, a missing file counts as no prediction") {
  const fs::path dir = labels_for("bounds");
  write(dir / "outputs/A0002.csv", "#A0002\n426783006\n1\n0.9\n");
  write(dir / "outputs/A0003.csv", "#A0003\n164889003\n1\n0.9\n");
  CHECK(ecgssl::metrics::score_output_folder(dir / "labels", dir / "outputs").challenge_score == doctest::Approx(1.0));
  write(dir / "outputs/A0003.csv", "#A0003\n426783006\n1\n0.9\n");
  CHECK(ecgssl::metrics::score_output_folder(dir / "labels", dir / "outputs").challenge_score == doctest::Approx(0.0));
  fs::remove(dir / "outputs/A0003.csv");
  const auto r = ecgssl::metrics::score_output_folder(dir / "labels", dir / "outputs");
  CHECK(r.missing_outputs == 1);
  // A0003 predicted nothing: it adds nothing to S(pred) = 1. S(labels) = 2; S(inactive) = 1 + 0.5*0.25
  // (A0003: labels {AF}, inactive output {NSR}, n = 2).
  CHECK(r.challenge_score == doctest::Approx((1.0 - 1.125) / (2.0 - 1.125)));
}

TEST_CASE("score: the command prints JSON with the documented keys and rejects bad files") {
  const fs::path dir = labels_for("cli");
  write(dir / "outputs/A0002.csv", "#A0002\n426783006\n1\n0.9\n");
  write(dir / "outputs/A0003.csv", "#A0003\n164889003\n1\n0.9\n");
  std::ostringstream out, err;
  REQUIRE(ecgssl::cli::run_score({"--labels", (dir / "labels").string(), "--outputs", (dir / "outputs").string(), "--json"},
                                 out, err) == 0);
  const auto j = nlohmann::json::parse(out.str());
  for (const char* key : {"challenge_score", "auroc", "auprc", "accuracy", "f_measure", "classes"}) CHECK(j.contains(key));
  CHECK(j["challenge_score"].get<double>() == doctest::Approx(1.0));
  CHECK(j["classes"].contains("AF"));
  CHECK(j["classes"]["AF"]["f_measure"].get<double>() == doctest::Approx(1.0));

  std::ostringstream table;
  REQUIRE(ecgssl::cli::run_score({"--labels", (dir / "labels").string(), "--outputs", (dir / "outputs").string()}, table,
                                 err) == 0);
  CHECK(table.str().find("challenge_score  1.0000") != std::string::npos);

  write(dir / "outputs/A0003.csv", "#A0003\n164889003\n2\n0.9\n");
  CHECK_THROWS_AS(ecgssl::metrics::score_output_folder(dir / "labels", dir / "outputs"), ecgssl::data_error);
  write(dir / "outputs/A0003.csv", "#A0003\n164889003,59118001\n1\n0.9\n");
  CHECK_THROWS_WITH_AS(ecgssl::metrics::score_output_folder(dir / "labels", dir / "outputs"),
                       doctest::Contains("line 3"), ecgssl::data_error);
  std::ostringstream o2, e2;
  CHECK(ecgssl::cli::run_score({"--labels", "x"}, o2, e2) == 2);  // --outputs missing
}

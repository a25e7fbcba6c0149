// ecgssl predict + ecgssl score round trip on real records.
#include "commands.hpp"
#include <ecgssl/io/challenge_output.hpp>
#include <nlohmann/json.hpp>
#include <ecgssl/data/wfdb_dataset.hpp>
#include <doctest/doctest.h>


#include "finetuned_fixture.hpp"

TEST_CASE("predict: one Challenge output file per record, record = mean of its segments; score reads them") {
  const auto& f = ecgssl::test_support::finetuned();
  const auto outputs = f.dir / "outputs";
  std::filesystem::remove_all(outputs);
  std::vector<std::string> args{"--checkpoint", f.model.string(), "--out", outputs.string()};
  for (const auto& r : f.records) args.push_back((f.data / r).string());
  std::ostringstream out, err;
  REQUIRE(ecgssl::cli::run_predict(args, out, err) == 0);
  for (const auto& r : f.records) REQUIRE(std::filesystem::exists(outputs / (r + ".csv")));

  // File format: 4 lines, record id first.
  std::ifstream in(outputs / "A0001.csv");
  std::string l1, l2, l3, l4;
  std::getline(in, l1);
  std::getline(in, l2);
  std::getline(in, l3);
  std::getline(in, l4);
  CHECK(l1 == "#A0001");
  CHECK(l2.rfind("164889003,164890007,", 0) == 0);
  CHECK(std::count(l3.begin(), l3.end(), ',') == 25);

  // A0001's probabilities = mean over its 3 segments of the model's sigmoid outputs.
  const auto model = ecgssl::pipeline::load_finetuned<float>(f.model);
  const auto set = ecgssl::data::load_segment_set(f.data.string());
  const auto p = ecgssl::pipeline::predict_probabilities(*model, set, ecgssl::io::lead_set());
  double mean0 = 0;
  int n = 0;
  for (std::size_t i = 0; i < set.size(); ++i) {
    if (set.record_ids[i] == "A0001") {
      mean0 += p(i, 0);
      ++n;
    }
  }
  REQUIRE(n == 3);
  const auto o = ecgssl::io::challenge_output::load(outputs / "A0001.csv");
  CHECK(o.probabilities[0] == doctest::Approx(mean0 / 3).epsilon(1e-5));
  CHECK(o.decisions[0] == (mean0 / 3 > 0.5 ? 1.0f : 0.0f));

  // score: the Challenge score of the files' decisions against the headers' labels.
  std::ostringstream s;
  REQUIRE(ecgssl::cli::run_score({"--labels", f.data.string(), "--outputs", outputs.string(), "--json"}, s, err) == 0);
  const auto j = nlohmann::json::parse(s.str());
  ecgssl::tensor<float, 2> labels = xt::zeros<float>({f.records.size(), std::size_t{26}});
  ecgssl::tensor<float, 2> decisions = xt::zeros<float>({f.records.size(), std::size_t{26}});
  for (std::size_t r = 0; r < f.records.size(); ++r) {
    const auto h = ecgssl::io::read_wfdb_header((f.data / (f.records[r] + ".hea")).string());
    const auto y = ecgssl::io::make_challenge_labels(*h.comment_value("Dx"));
    const auto d = ecgssl::io::challenge_output::load(outputs / (f.records[r] + ".csv"));
    for (std::size_t c = 0; c < 26; ++c) {
      labels(r, c) = y[c];
      decisions(r, c) = d.decisions[c];
    }
  }
  CHECK(j["challenge_score"].get<double>() == doctest::Approx(ecgssl::metrics::compute_challenge_score(labels, decisions)));
  CHECK(j["records"].get<std::size_t>() == f.records.size());
  CHECK(j["missing_outputs"].get<std::size_t>() == 0);

  std::ostringstream o2;
  std::ostringstream e2;
  CHECK(ecgssl::cli::run_predict({"--checkpoint", f.model.string(), "--out", outputs.string(), (f.data / "nope").string()},
                                 o2, e2) == 1);
  CHECK(e2.str().find("nope.hea") != std::string::npos);
}

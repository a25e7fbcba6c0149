// challenge_output: the Challenge 2021 output file format, written and read back.
#include <doctest/doctest.h>

#include <ecgssl/io/challenge_output.hpp>

#include <filesystem>

TEST_CASE("challenge_output: writes the four lines and reads them back") {
  ecgssl::io::challenge_output o;
  o.record_id = "A0001";
  o.decisions[5] = 1;
  o.probabilities[5] = 0.75f;
  o.probabilities[0] = 0.125f;
  const std::string text = o.to_text();
  CHECK(text.rfind("#A0001\n164889003,164890007,6374002,", 0) == 0);
  CHECK(text.find(",713427006|59118001,") != std::string::npos);
  CHECK(text.find("\n0,0,0,0,0,1,0,") != std::string::npos);
  CHECK(text.find("\n0.125,0,0,0,0,0.75,") != std::string::npos);
  const auto back = ecgssl::io::challenge_output::parse(text, "mem");
  CHECK(back.record_id == "A0001");
  CHECK(back.decisions == o.decisions);
  CHECK(back.probabilities == o.probabilities);
  const auto dir = std::filesystem::temp_directory_path();
  const auto path = o.save(dir);
  CHECK(path.filename() == "A0001.csv");
  CHECK(ecgssl::io::challenge_output::load(path).probabilities == o.probabilities);
}

TEST_CASE("challenge_output: single codes of an equivalence class, unscored codes and bad input") {
  const auto o = ecgssl::io::challenge_output::parse("#r\n59118001,10000000\n1,1\n0.9,0.8\n", "f.csv");
  CHECK(o.decisions[5] == 1);  // RBBB belongs to CRBBB|RBBB
  CHECK(o.probabilities[5] == doctest::Approx(0.9));
  using ecgssl::io::challenge_output;
  CHECK_THROWS_WITH_AS(challenge_output::parse("#r\n59118001\n1\n", "f.csv"), doctest::Contains("f.csv"), ecgssl::data_error);
  CHECK_THROWS_AS(challenge_output::parse("r\n59118001\n1\n0.5\n", "f.csv"), ecgssl::data_error);
  CHECK_THROWS_AS(challenge_output::parse("#r\nAF\n1\n0.5\n", "f.csv"), ecgssl::data_error);
  CHECK_THROWS_AS(challenge_output::parse("#r\n59118001\n1\n1.5\n", "f.csv"), ecgssl::data_error);
  CHECK_THROWS_AS(challenge_output::load("/nonexistent/x.csv"), ecgssl::io_error);
}

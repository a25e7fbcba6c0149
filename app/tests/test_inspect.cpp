// `ecgssl inspect` through run_inspect with string streams. Expected values are read by hand
// from the shipped headers; samples come from the wfdb-python fixture.
#include "commands.hpp"
#include <doctest/doctest.h>

#include <support/npy.hpp>

#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

using ecgssl::cli::run_inspect;

namespace {
const std::string records = std::string(ECGSSL_TEST_DATA_DIR) + "/records";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}
}  // namespace

TEST_CASE("inspect json has one object per record with the header's values") {
  std::ostringstream out, err;
  const int rc = run_inspect({records + "/challenge/A0001", "--json", records + "/challenge/HR00001.hea"}, out, err);
  CHECK(rc == 0);
  CHECK(err.str().empty());
  const auto lines = lines_of(out.str());
  REQUIRE(lines.size() == 2);
  const auto a = nlohmann::json::parse(lines[0]);
  CHECK(a["record"] == "A0001");
  CHECK(a["fs"] == 500.0);
  CHECK(a["n_samples"] == 7500);
  CHECK(a["n_leads"] == 12);
  CHECK(a["leads"][3] == "aVR");
  CHECK(a["units"][0] == "mV");
  CHECK(a["gain"][0] == 1000.0);
  CHECK(a["baseline"][0] == 0);
  CHECK(a["age"] == 74.0);
  CHECK(a["sex"] == "Male");
  CHECK(a["dx"] == nlohmann::json::array({"59118001"}));
  CHECK(a["labels"] == nlohmann::json::array({"CRBBB|RBBB"}));  // spec §2.3: 59118001 is class 5
  CHECK_FALSE(a.contains("samples"));
  const auto h = nlohmann::json::parse(lines[1]);
  CHECK(h["dx"] == nlohmann::json::array({"251146004", "426783006"}));
  CHECK(h["sex"] == "Female");
  CHECK(h["labels"] == nlohmann::json::array({"LQRSV", "NSR"}));  // classes 11 and 14
}

TEST_CASE("inspect json samples are the first physical values of each lead") {
  std::ostringstream out, err;
  REQUIRE(run_inspect({"--json", "--samples", "5", records + "/challenge/HR00001"}, out, err) == 0);
  const auto j = nlohmann::json::parse(out.str());
  const auto ref = ecgssl::testing::read_npy(std::string(ECGSSL_TEST_DATA_DIR) + "/io/wfdb/HR00001_physical_head.npy");
  REQUIRE(j["samples"].size() == 12);
  const std::size_t head = ref.shape[1];
  for (std::size_t l = 0; l < 12; ++l) {
    REQUIRE(j["samples"][l].size() == 5);
    for (std::size_t t = 0; t < 5; ++t) CHECK(j["samples"][l][t].get<double>() == doctest::Approx(ref.values[l * head + t]).epsilon(1e-12));
  }
  // NaN (invalid or skewed-out samples) is written as null.
  std::ostringstream out2;
  REQUIRE(run_inspect({"--json", "--samples=4000", records + "/wfdb/test01_00s_skew"}, out2, err) == 0);
  const auto s = nlohmann::json::parse(out2.str());
  CHECK(s["samples"][1][3999].is_null());
  CHECK(s["samples"][1][0] == doctest::Approx(-0.07));  // ECG_2 sample 3 of test01_00s
  CHECK(s["age"] == 25.0);  // MIT-style "# <age>: 25  <sex>: M ..."
  CHECK(s["sex"] == "M");
  CHECK(s["invalid_samples"] == 3);
  std::ostringstream out3;
  REQUIRE(run_inspect({"--json", records + "/wfdb/100_3chan"}, out3, err) == 0);
  CHECK(nlohmann::json::parse(out3.str())["age"].is_null());  // no age comment
}

TEST_CASE("inspect labels come from the dx hook") {
  ecgssl::cli::inspect_hooks hooks;
  hooks.dx_to_labels = [](const std::vector<std::string>& dx) {
    std::vector<std::string> out;
    for (const auto& d : dx) out.push_back(d == "59118001" ? "RBBB" : "?");
    return out;
  };
  std::ostringstream out, err;
  REQUIRE(run_inspect({"--json", records + "/challenge/A0001"}, out, err, hooks) == 0);
  CHECK(nlohmann::json::parse(out.str())["labels"] == nlohmann::json::array({"RBBB"}));
}

TEST_CASE("inspect summary is readable") {
  std::ostringstream out, err;
  REQUIRE(run_inspect({records + "/ludb/3", "--samples", "2"}, out, err) == 0);
  const std::string text = out.str();
  CHECK(text.find("12 leads x 5000 samples at 500 Hz (10 s)") != std::string::npos);
  CHECK(text.find("leads: i ii iii avr avl avf v1 v2 v3 v4 v5 v6") != std::string::npos);
  CHECK(text.find("units: mV (all leads)") != std::string::npos);
  CHECK(text.find("gain: 751 1895 2027") != std::string::npos);
  CHECK(text.find("age: 53, sex: M") != std::string::npos);
  CHECK(text.find("checksums: ok") != std::string::npos);
  CHECK(text.find("  i: ") != std::string::npos);
}

TEST_CASE("inspect reports unreadable input on one line and exits non-zero") {
  std::ostringstream out, err;
  CHECK(run_inspect({"/nonexistent/rec", records + "/challenge/A0001", "--json"}, out, err) == 1);
  const auto errors = lines_of(err.str());
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("/nonexistent/rec.hea") != std::string::npos);
  CHECK(lines_of(out.str()).size() == 1);  // the readable record is still printed
  std::ostringstream out2, err2;
  CHECK(run_inspect({}, out2, err2) == 2);
  CHECK(err2.str().find("usage") != std::string::npos);
  std::ostringstream out3, err3;
  CHECK(run_inspect({"x", "--samples", "-3"}, out3, err3) == 2);
  CHECK(err3.str().find("'--samples'") != std::string::npos);
  std::ostringstream out4, err4;
  CHECK(run_inspect({"x", "--frobnicate"}, out4, err4) == 2);
  CHECK(err4.str().find("--frobnicate") != std::string::npos);
}

// PTB-XL metadata (io/ptbxl_database.hpp) against labels computed independently from the same
// CSV files by tools/make_ptbxl_label_fixture.py (Python's csv and ast.literal_eval), for all 500
// bundled rows; and malformed files refused by file, line and column.
#include <doctest/doctest.h>

#include <ecgssl/io/ptbxl_database.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using ecgssl::io::ptbxl_database;

namespace {
const fs::path dir = fs::path(ECGSSL_TEST_DATA_DIR) / "io" / "ptbxl";

std::vector<std::vector<std::string>> simple_csv(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    for (std::string c; std::getline(s, c, ',');) cells.push_back(c);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    rows.push_back(cells);
  }
  return rows;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string load_error(const std::string& database_text) {
  const auto bad = fs::temp_directory_path() / "ecgssl_bad_ptbxl.csv";
  std::ofstream(bad) << database_text;
  try {
    (void)ptbxl_database::load(bad, dir / "scp_statements.csv");
  } catch (const ecgssl::error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("ptbxl_database: every bundled row gives the labels, patient and split computed independently") {
  const auto db = ptbxl_database::load(dir / "ptbxl_database.csv", dir / "scp_statements.csv");
  const auto expected = simple_csv(dir / "expected_labels.csv");
  REQUIRE(expected.size() == 501);
  REQUIRE(db.records().size() == 500);
  std::size_t mismatches = 0, with_codes = 0;
  for (std::size_t i = 1; i < expected.size(); ++i) {
    const auto& e = expected[i];
    const auto* r = db.find(std::stoll(e[0]));
    REQUIRE(r != nullptr);
    CAPTURE(r->ecg_id);
    mismatches += r->patient_id != e[1];
    mismatches += r->strat_fold != std::stoi(e[2]);
    const auto split = ptbxl_database::split_of(*r);
    mismatches += e[3] != (split == ecgssl::io::ptbxl_split::test ? "test" : split == ecgssl::io::ptbxl_split::valid ? "valid" : "train");
    const auto labels = db.superclass_labels(*r);
    for (std::size_t k = 0; k < 5; ++k) mismatches += labels[k] != std::stoi(e[4 + k]);
    std::string codes;
    for (const auto c : ptbxl_database::challenge_codes(*r)) codes += (codes.empty() ? "" : " ") + std::to_string(c);
    mismatches += codes != (e.size() > 9 ? e[9] : "");
    with_codes += !codes.empty();
  }
  CHECK(mismatches == 0);
  CHECK(with_codes > 400);
  // first row as PTB-XL publishes it: {'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}, patient 15709.0
  const auto* first = db.find(1);
  REQUIRE(first != nullptr);
  CHECK(first->scp_codes.size() == 3);
  CHECK(first->scp_codes[0].first == "NORM");
  CHECK(first->scp_codes[0].second == 100.0);
  CHECK(first->filename_hr == "records500/00000/00001_hr");
  CHECK(db.statements().at("IMI").diagnostic_class == "MI");
}

TEST_CASE("ptbxl_database: record names map to ecg_id") {
  CHECK(ptbxl_database::ecg_id_of("00001_hr") == 1);
  CHECK(ptbxl_database::ecg_id_of("records500/00000/00042_hr.hea") == 42);
  CHECK(ptbxl_database::ecg_id_of("HR00519") == 519);
  CHECK(ptbxl_database::ecg_id_of("00001_lr") == 1);
  CHECK_FALSE(ptbxl_database::ecg_id_of("A0001").has_value());
  CHECK_FALSE(ptbxl_database::ecg_id_of("HRx").has_value());
  CHECK_FALSE(ptbxl_database::ecg_id_of("_hr").has_value());
}

TEST_CASE("ptbxl_database: malformed metadata is refused by file, line and column") {
  const std::string good = read_text(dir / "ptbxl_database.csv");
  const std::string header = good.substr(0, good.find('\n') + 1);
  const std::string row1 = good.substr(header.size(), good.find('\n', header.size()) + 1 - header.size());
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string r = row1;
    const auto at = r.find(from);
    REQUIRE(at != std::string::npos);
    return header + r.replace(at, from.size(), to);
  };
  auto e = load_error(with("{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}", "{'NORM': 100.0, 'XYZ': 0.0}"));
  CHECK(e.find(":2:") != std::string::npos);  // file:line
  CHECK(e.find("scp_codes") != std::string::npos);
  CHECK(e.find("XYZ") != std::string::npos);
  e = load_error(with("{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}", "{'NORM': __import__('os')}"));
  CHECK(e.find("scp_codes") != std::string::npos);
  e = load_error(with("{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}", "{'NORM': 100.0, 'NORM': 0.0}"));
  CHECK(e.find("twice") != std::string::npos);
  e = load_error(with("{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}", "{'NORM': 250.0}"));
  CHECK(e.find("0 to 100") != std::string::npos);
  e = load_error(with(",3,records100", ",11,records100"));
  CHECK(e.find("strat_fold") != std::string::npos);
  e = load_error(with("1,15709.0,", "1,abc,"));
  CHECK(e.find("patient_id") != std::string::npos);
  e = load_error(header + row1 + row1);
  CHECK(e.find("each ecg_id once") != std::string::npos);
  e = load_error("ecg_id,patient_id\n1,2\n");
  CHECK(e.find("no column 'age'") != std::string::npos);
  e = load_error(header + "1,2,3\n");
  CHECK(e.find("3 fields") != std::string::npos);
  e = load_error(header + row1.substr(0, row1.find("\"{'NORM'")) + "\"{'NORM': 1.0}");
  CHECK(e.find("unterminated") != std::string::npos);
}

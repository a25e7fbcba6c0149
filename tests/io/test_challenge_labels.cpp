#include <ecgssl/io/challenge_labels.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace ecgssl::io;

namespace {
std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    rows.push_back(cells);
  }
  return rows;
}
const std::string data_dir = std::string(ECGSSL_SOURCE_DIR) + "/data/cinc2021/";
}  // namespace

TEST_CASE("the compiled class order and weights equal the shipped weights.csv") {
  const auto rows = read_csv(data_dir + "weights.csv");
  REQUIRE(rows.size() == 27);
  REQUIRE(rows[0].size() == 27);
  for (std::size_t j = 0; j < 26; ++j) CHECK(challenge_class_codes(j) == rows[0][j + 1]);
  for (std::size_t i = 0; i < 26; ++i) {
    REQUIRE(rows[i + 1].size() == 27);
    CHECK(rows[i + 1][0] == rows[0][i + 1]);
    for (std::size_t j = 0; j < 26; ++j) {
      CHECK(challenge_weight(i, j) == std::strtod(rows[i + 1][j + 1].c_str(), nullptr));
    }
  }
  const auto abbr = read_csv(data_dir + "weights_abbreviations.csv");
  REQUIRE(abbr.size() == 27);
  for (std::size_t j = 0; j < 26; ++j) CHECK(challenge_class_abbreviation(j) == abbr[0][j + 1]);
}

TEST_CASE("every scored code of dx_mapping_scored.csv maps to the class that lists it") {
  const auto rows = read_csv(data_dir + "dx_mapping_scored.csv");
  REQUIRE(rows.size() == 31);
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const std::uint64_t code = std::stoull(rows[r][1]);
    const auto c = challenge_class_of(code);
    REQUIRE_MESSAGE(c.has_value(), "code " << code);
    const std::string header(challenge_class_codes(*c));
    CHECK(("|" + header + "|").find("|" + rows[r][1] + "|") != std::string::npos);
    CHECK(scored_code_abbreviation(code) == std::optional<std::string_view>(rows[r][2]));
  }
}

TEST_CASE("the label space matches the table of spec section 2.3") {
  struct row {
    std::size_t index;
    const char* codes;
    const char* abbr;
  };
  const row table[] = {
      {0, "164889003", "AF"}, {1, "164890007", "AFL"}, {2, "6374002", "BBB"},
      {3, "426627000", "Brady"}, {4, "733534002|164909002", "CLBBB|LBBB"},
      {5, "713427006|59118001", "CRBBB|RBBB"}, {6, "270492004", "IAVB"}, {7, "713426002", "IRBBB"},
      {8, "39732003", "LAD"}, {9, "445118002", "LAnFB"}, {10, "164947007", "LPR"},
      {11, "251146004", "LQRSV"}, {12, "111975006", "LQT"}, {13, "698252002", "NSIVCB"},
      {14, "426783006", "NSR"}, {15, "284470004|63593006", "PAC|SVPB"}, {16, "10370003", "PR"},
      {17, "365413008", "PRWP"}, {18, "427172004|17338001", "PVC|VPB"}, {19, "164917005", "QAb"},
      {20, "47665007", "RAD"}, {21, "427393009", "SA"}, {22, "426177001", "SB"},
      {23, "427084000", "STach"}, {24, "164934002", "TAb"}, {25, "59931005", "TInv"}};
  for (const auto& r : table) {
    CHECK(challenge_class_codes(r.index) == r.codes);
    CHECK(challenge_class_abbreviation(r.index) == r.abbr);
  }
  CHECK(sinus_rhythm_class == 14);
  CHECK(challenge_class_of(426783006) == std::optional<std::size_t>(sinus_rhythm_class));
  for (std::size_t i = 0; i < 26; ++i) CHECK(challenge_weight(i, i) == 1.0);
}

TEST_CASE("equivalent codes and abbreviations resolve to one class") {
  CHECK(challenge_class_of(733534002) == challenge_class_of(164909002));
  CHECK(challenge_class_of(59118001) == std::optional<std::size_t>(5));
  CHECK(challenge_class_of(17338001) == std::optional<std::size_t>(18));
  CHECK_FALSE(challenge_class_of(164951009).has_value());  // abQRS is unscored
  CHECK(challenge_class_by_abbreviation("RBBB") == std::optional<std::size_t>(5));
  CHECK(challenge_class_by_abbreviation("crbbb|rbbb") == std::optional<std::size_t>(5));
  CHECK(challenge_class_by_abbreviation("SVPB") == std::optional<std::size_t>(15));
  CHECK_FALSE(challenge_class_by_abbreviation("abQRS").has_value());
}

TEST_CASE("multi-hot labels from a Dx list") {
  // A0001-like header: AF + RBBB; E00015 lists 284470004 twice; 164951009 is unscored.
  const auto labels = make_challenge_labels("164889003,59118001, 284470004 284470004,164951009");
  for (std::size_t i = 0; i < 26; ++i) {
    const bool positive = i == 0 || i == 5 || i == 15;
    CHECK(labels[i] == (positive ? 1.0f : 0.0f));
  }
  const auto none = make_challenge_labels("164951009");
  for (auto v : none) CHECK(v == 0.0f);
  const auto empty = make_challenge_labels("");
  for (auto v : empty) CHECK(v == 0.0f);
  try {
    (void)make_challenge_labels("164889003,Unknown", ecgssl::in_file("A0001.hea", "Dx"));
    FAIL("expected data_error");
  } catch (const ecgssl::data_error& e) {
    CHECK(std::string(e.what()).find("'Unknown'") != std::string::npos);
    CHECK(std::string(e.what()).find("A0001.hea") != std::string::npos);
  }
}

TEST_CASE("labels of the 171 real Challenge records match counts computed with Python") {
  // tests/data/io/cinc_dx.csv and the counts below come from tools/gen_dx_fixture.py, which
  // matches codes against weights.csv on its own; the shared data README also states 171
  // labelled records, 146 with a scored code, 28 of the 30 scored codes present.
  const auto rows = read_csv(std::string(ECGSSL_TEST_DATA_DIR) + "/io/cinc_dx.csv");
  REQUIRE(rows.size() == 172);
  const std::size_t expected[26] = {13, 10, 0, 4, 2, 12, 7, 3, 9, 1, 1, 3, 3, 3, 49, 8, 3, 1, 6, 5, 2, 8, 32, 11, 14, 5};
  std::size_t counts[26] = {};
  std::size_t any = 0;
  std::vector<std::uint64_t> seen;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    // The quoted dx field was split on its commas by read_csv: re-join the pieces.
    std::string dx;
    for (std::size_t c = 1; c < rows[r].size(); ++c) dx += rows[r][c] + ",";
    for (char& ch : dx) if (ch == '"') ch = ' ';
    const auto labels = make_challenge_labels(dx);
    bool hit = false;
    for (std::size_t i = 0; i < 26; ++i) {
      counts[i] += labels[i] == 1.0f;
      hit = hit || labels[i] == 1.0f;
    }
    any += hit;
    for (auto code : parse_dx_codes(dx)) {
      if (challenge_class_of(code) && std::find(seen.begin(), seen.end(), code) == seen.end()) seen.push_back(code);
    }
  }
  for (std::size_t i = 0; i < 26; ++i) CHECK_MESSAGE(counts[i] == expected[i], "class " << challenge_class_abbreviation(i));
  CHECK(any == 146);
  CHECK(seen.size() == 28);
}

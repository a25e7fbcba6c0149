
#include "commands.hpp"
#include <ecgssl/io/manifest.hpp>
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace {
const std::string records = std::string(ECGSSL_TEST_DATA_DIR) + "/records";
}

TEST_CASE("manifest keeps the 500 Hz records of at least 5 s and gives a reason for every other") {
  const auto csv = (std::filesystem::temp_directory_path() / "ecgssl_test_manifest.csv").string();
  std::ostringstream out, err;
  REQUIRE(ecgssl::cli::run_manifest({records + "/challenge", "--out", csv}, out, err) == 0);
  CHECK(err.str().empty());
  const auto m = ecgssl::io::manifest::load(csv);
  std::size_t kept = 0;
  for (const auto& e : m.entries) {
    if (e.usable()) {
      ++kept;
      CHECK(e.sampling_frequency == 500.0);
      CHECK(e.samples >= 2500);
    } else {
      CHECK_FALSE(e.skip_reason.empty());
    }
  }
  CHECK(kept > 0);
  // The summary line counts what the file holds.
  CHECK(out.str().find(std::to_string(m.entries.size()) + " records") != std::string::npos);
  CHECK(out.str().find(std::to_string(kept) + " kept") != std::string::npos);
  // A 1000 Hz requirement skips every 500 Hz record, each with its rate in the reason.
  std::ostringstream out2, err2;
  REQUIRE(ecgssl::cli::run_manifest({records + "/challenge", "--out", csv, "--fs", "1000"}, out2, err2) == 0);
  for (const auto& e : ecgssl::io::manifest::load(csv).entries) {
    if (e.sampling_frequency == 500.0) CHECK(e.skip_reason.find("sampling frequency 500 Hz") == 0);
  }
  std::filesystem::remove(csv);
}

TEST_CASE("manifest errors name the folder or option") {
  std::ostringstream out, err;
  CHECK(ecgssl::cli::run_manifest({"/nonexistent-folder", "--out", "/tmp/x.csv"}, out, err) == 1);
  CHECK(err.str().find("/nonexistent-folder") != std::string::npos);
  std::ostringstream out2, err2;
  // A bad value is a usage error found at parse time (issue 19), its message naming the option.
  CHECK(ecgssl::cli::run_manifest({records, "--out", "/tmp/x.csv", "--fs", "0"}, out2, err2) == 2);
  CHECK(err2.str().substr(0, err2.str().find('\n')).find("--fs") != std::string::npos);
  std::ostringstream out3, err3;
  CHECK(ecgssl::cli::run_manifest({records}, out3, err3) == 2);  // --out is required
  // A folder that cannot take the output: nothing is written, the error names the file.
  std::ostringstream out4, err4;
  CHECK(ecgssl::cli::run_manifest({records + "/challenge", "--out", "/nonexistent-dir/m.csv"}, out4, err4) == 1);
  CHECK(err4.str().find("/nonexistent-dir/m.csv") != std::string::npos);
}

// Issue 19: a record whose header is fine but whose signal file is broken used to be listed as
// kept, and a later pretrain run stopped on it; now the scan reads it and skips it with a reason.
TEST_CASE("manifest reads each kept record's signal file; --headers-only trusts the headers") {
  const auto dir = std::filesystem::temp_directory_path() / "ecgssl_test_manifest_broken";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* ext : {".hea", ".mat"}) {
    std::filesystem::copy_file(records + "/challenge/A0001" + ext, dir / (std::string("A0001") + ext));
    std::filesystem::copy_file(records + "/challenge/E00001" + ext, dir / (std::string("E00001") + ext));
  }
  std::filesystem::resize_file(dir / "E00001.mat", 100);  // truncated
  const auto csv = dir / "m.csv";
  std::ostringstream out, err;
  REQUIRE(ecgssl::cli::run_manifest({dir.string(), "--out", csv.string()}, out, err) == 0);
  auto m = ecgssl::io::manifest::load(csv);
  REQUIRE(m.entries.size() == 2);
  for (const auto& e : m.entries) {
    INFO(e.record_id);
    CHECK(e.usable() == (e.record_id == "A0001"));
    if (e.record_id == "E00001") CHECK(e.skip_reason.find("unreadable signal") != std::string::npos);
  }
  CHECK(out.str().find("1 kept, 1 skipped") != std::string::npos);
  std::ostringstream out2, err2;
  REQUIRE(ecgssl::cli::run_manifest({dir.string(), "--out", csv.string(), "--headers-only"}, out2, err2) == 0);
  m = ecgssl::io::manifest::load(csv);
  for (const auto& e : m.entries) CHECK(e.usable());
}

TEST_CASE("manifest --ptbxl-database: labels and patients from PTB-XL's metadata") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "ecgssl_manifest_ptbxl";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* ext : {".hea", ".dat"}) fs::copy_file(records + "/ptbxl/00001_hr" + ext, dir / (std::string("00001_hr") + ext));
  for (const char* ext : {".hea", ".dat"}) fs::copy_file(records + "/ludb/3" + ext, dir / (std::string("3") + ext));  // not PTB-XL
  const std::string db = std::string(ECGSSL_TEST_DATA_DIR) + "/io/ptbxl/ptbxl_database.csv";
  const auto csv = (dir / "manifest.csv").string();
  std::ostringstream out, err;
  REQUIRE_MESSAGE(ecgssl::cli::run_manifest({dir.string(), "--out", csv, "--ptbxl-database", db}, out, err) == 0, err.str());
  const auto m = ecgssl::io::manifest::load(csv);
  REQUIRE(m.entries.size() == 2);
  for (const auto& e : m.entries) {
    if (e.record_id == "00001_hr") {
      CHECK(e.usable());
      // ecg_id 1: {'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}, patient 15709.0 -> LQRSV, NSR
      CHECK(e.labels == std::vector<std::uint64_t>{251146004, 426783006});
      CHECK(e.patient_id == "15709");
    } else {
      CHECK(e.skip_reason.find("not listed in") == 0);
    }
  }
  std::ostringstream out2, err2;
  CHECK(ecgssl::cli::run_manifest({dir.string(), "--out", csv, "--ptbxl-database", (dir / "none.csv").string()}, out2, err2) == 1);
  CHECK(err2.str().find("none.csv") != std::string::npos);
  fs::remove_all(dir);
}

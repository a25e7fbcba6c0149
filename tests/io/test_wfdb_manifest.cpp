// Tests of io/wfdb_manifest.hpp: manifest entries from headers, and the lead-name checks of
// issue 19 (a lead named twice, or a name that is not UTF-8, used to be silently dropped or
// zero-filled; now the record is skipped with a reason naming the signals).
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ecgssl/io/wfdb_manifest.hpp>

namespace fs = std::filesystem;
using ecgssl::io::detail::is_utf8;
using ecgssl::io::detail::lead_names_problem;

namespace {

fs::path header_with_leads(const std::string& name, const std::vector<std::string>& leads) {
  const fs::path dir = fs::temp_directory_path() / ("ecgssl_test_wfdb_manifest_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream out(dir / (name + ".hea"), std::ios::binary);
  out << name << " " << leads.size() << " 500 5000\n";
  for (const auto& l : leads) out << name << ".mat 16 1000/mV 16 0 0 0 0 " << l << "\n";
  out << "#Age: 61\n#Sex: Female\n#Dx: 426783006\n";
  return dir / (name + ".hea");
}

}  // namespace

TEST_CASE("is_utf8 accepts text and refuses malformed sequences") {
  CHECK(is_utf8("aVR"));
  CHECK(is_utf8(""));
  CHECK(is_utf8("\xc2\xb5V"));          // µV
  CHECK(is_utf8("\xe2\x82\xac"));       // €
  CHECK(is_utf8("\xf0\x9f\x92\x93"));   // U+1F493
  CHECK_FALSE(is_utf8("V\xff"));        // never a UTF-8 byte
  CHECK_FALSE(is_utf8("\x80"));         // stray continuation
  CHECK_FALSE(is_utf8("\xc2"));         // truncated
  CHECK_FALSE(is_utf8("\xe2\x82"));     // truncated
  CHECK_FALSE(is_utf8("\xc0\xaf"));     // overlong '/'
  CHECK_FALSE(is_utf8("\xe0\x80\xaf")); // overlong '/'
  CHECK_FALSE(is_utf8("\xed\xa0\x80")); // surrogate U+D800
  CHECK_FALSE(is_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST_CASE("lead_names_problem: twelve distinct leads (any spelling) and extra leads are fine") {
  CHECK_FALSE(lead_names_problem({"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"}));
  CHECK_FALSE(lead_names_problem({"i", "ii", "avr", "V1"}));
  CHECK_FALSE(lead_names_problem({"I", "II", "Resp", "Pleth"}));  // not standard leads: unused
}

TEST_CASE("lead_names_problem: a lead named twice, in any spelling, names both signals") {
  const auto p = lead_names_problem({"I", "II", "aVR", "avr"});
  REQUIRE(p);
  CHECK(p->find("aVR is named twice") != std::string::npos);
  CHECK(p->find("signals 3 'aVR' and 4 'avr'") != std::string::npos);
}

TEST_CASE("read_manifest_entry skips records with ambiguous lead names, with the reason") {
  const auto twice = ecgssl::io::read_manifest_entry(header_with_leads("twice", {"I", "II", "V1", "V1"}));
  CHECK_FALSE(twice.usable());
  CHECK(twice.skip_reason.find("V1 is named twice") != std::string::npos);
  const auto bytes = ecgssl::io::read_manifest_entry(header_with_leads("bytes", {"I", "V\xff"}));
  CHECK_FALSE(bytes.usable());
  CHECK(bytes.skip_reason.find("signal 2 is not UTF-8") != std::string::npos);
  const auto fine = ecgssl::io::read_manifest_entry(header_with_leads("fine", {"I", "II"}));
  CHECK(fine.skip_reason.empty());
  CHECK(fine.leads == std::vector<std::string>{"I", "II"});
  CHECK(fine.record_id == "fine");
  CHECK(fine.sex == "Female");
}

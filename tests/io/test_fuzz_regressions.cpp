// Replays every input a fuzzer once crashed on (tests/data/io/regressions/<target>-<what>)
// through the same harness the fuzz targets use (fuzz/wfdb_harness.hpp).
#include <doctest/doctest.h>

#include "../../fuzz/wfdb_harness.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

TEST_CASE("fuzzer crash inputs stay fixed") {
  const std::filesystem::path dir = std::string(ECGSSL_TEST_DATA_DIR) + "/io/regressions";
  int replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    CAPTURE(name);
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (name.rfind("header-", 0) == 0) {
      CHECK(ecgssl::fuzzing::fuzz_wfdb_header_one(bytes.data(), bytes.size()) == 0);
    } else if (name.rfind("record-", 0) == 0) {
      CHECK(ecgssl::fuzzing::fuzz_wfdb_record_one(bytes.data(), bytes.size()) == 0);
    } else if (name.rfind("formats-", 0) == 0) {
      CHECK(ecgssl::fuzzing::fuzz_wfdb_formats_one(bytes.data(), bytes.size()) == 0);
    } else {
      FAIL("regression input without a header-/record-/formats- prefix");
    }
    ++replayed;
  }
  CHECK(replayed >= 1);
}

TEST_CASE("an empty signal file with an inferred length gives a record of zero samples") {
  // The first fuzzer finding (formats target, format 310, two signals, no sample count): the
  // reader offset a null pointer. Same input written out by hand.
  const auto h = ecgssl::io::parse_wfdb_header("f 2 500\nf.dat 310 200(-1)/mV 0 0 0 0 0 sig0\nf.dat 310 200(0)/mV 0 0 3 0 0 sig1\n");
  ecgssl::io::wfdb_record rec;
  ecgssl::io::decode_record(h, [](const auto&) { return std::span<const unsigned char>(); }, rec);
  CHECK(rec.n_samples == 0);
  CHECK(rec.digital.shape()[0] == 2);
  CHECK(rec.digital.shape()[1] == 0);
  CHECK(rec.checksums[0] == ecgssl::io::checksum_status::ok);  // empty sum 0 = written 0
}

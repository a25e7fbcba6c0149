// Chunked record reading (io/wfdb_stream.hpp): every streamable shipped record, read in chunks
// of many sizes, gives exactly the millivolts of the whole-record reader (itself checked
// against wfdb-python in test_wfdb_record.cpp); what cannot stream is refused by name.
#include <doctest/doctest.h>

#include <ecgssl/io/wfdb_record.hpp>
#include <ecgssl/io/wfdb_stream.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using ecgssl::io::wfdb_stream;

namespace {
const std::string records = std::string(ECGSSL_TEST_DATA_DIR) + "/records";

// The whole-record reader's millivolts with NaN kept (read_millivolts refuses NaN).
std::vector<float> whole_millivolts(const std::string& path, std::size_t& leads, std::size_t& samples) {
  const auto r = ecgssl::io::read_record(path);
  leads = r.n_leads();
  samples = static_cast<std::size_t>(r.n_samples);
  std::vector<float> mv(leads * samples);
  for (std::size_t l = 0; l < leads; ++l) {
    double scale = 1.0;
    if (r.units[l] == "uV") scale = 1e-3;
    if (r.units[l] == "V") scale = 1e3;
    for (std::size_t t = 0; t < samples; ++t) mv[l * samples + t] = static_cast<float>(r.physical(l, t) * scale);
  }
  return mv;
}

bool same_bits(float a, float b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0; }

std::string message_of(const std::string& path) {
  try {
    wfdb_stream s(path);
  } catch (const ecgssl::error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("wfdb_stream: every streamable record, in chunks of any size, equals the whole read") {
  // formats 16 (one and several leads), 80, 212 over 3 signals (frames that split a byte
  // group), 310 and 311 (tails of 1 and 2 samples), with and without a stated length
  for (const char* name : {"ptbxl/00001_hr", "ludb/3", "wfdb/100_3chan", "wfdb/3000003_0003", "wfdb/310derive",
                           "wfdb/310derive_2", "wfdb/310derive_3", "wfdb/311derive", "wfdb/311derive_2", "wfdb/311derive_3",
                           "wfdb/311derive_4", "wfdb/s0010_re", "wfdb/test01_00s"}) {
    CAPTURE(name);
    const std::string path = records + "/" + name;
    std::size_t leads = 0, samples = 0;
    const auto expected = whole_millivolts(path, leads, samples);
    for (const std::int64_t chunk : {std::int64_t{1}, std::int64_t{2}, std::int64_t{7}, std::int64_t{1000}, std::int64_t{1} << 20}) {
      CAPTURE(chunk);
      wfdb_stream s(path);
      REQUIRE(s.n_leads() == leads);
      REQUIRE(s.n_samples() == static_cast<std::int64_t>(samples));
      ecgssl::tensor<float, 2> mv;
      std::size_t at = 0, mismatches = 0;
      while (const auto got = s.read(chunk, mv)) {
        REQUIRE(mv.shape()[0] == leads);
        REQUIRE(mv.shape()[1] == static_cast<std::size_t>(got));
        for (std::size_t l = 0; l < leads; ++l)
          for (std::int64_t t = 0; t < got; ++t) mismatches += !same_bits(mv(l, static_cast<std::size_t>(t)), expected[l * samples + at + t]);
        at += static_cast<std::size_t>(got);
        CHECK(s.buffered_bytes() <= static_cast<std::size_t>(std::min<std::int64_t>(chunk, static_cast<std::int64_t>(samples)) + 3) * leads * 8);
      }
      CHECK(at == samples);
      CHECK(mismatches == 0);
      CHECK(s.read(chunk, mv) == 0);
    }
  }
}

TEST_CASE("wfdb_stream: records that cannot stream are refused, naming the header line") {
  CHECK(message_of(records + "/wfdb/03700181").find("samples per frame") != std::string::npos);
  CHECK(message_of(records + "/wfdb/test01_00s_skew").find("skew 3") != std::string::npos);
  CHECK(message_of(records + "/wfdb/binformats").find("format 8") != std::string::npos);
  CHECK(message_of(records + "/wfdb/041s/041s").find("multi-segment") != std::string::npos);
  const auto mat = message_of(records + "/challenge/E00001");
  CHECK(mat.find("E00001.hea") != std::string::npos);
  CHECK(mat.find(".mat") != std::string::npos);
}

TEST_CASE("wfdb_stream: a truncated or missing signal file is refused when opened, before any read") {
  const fs::path dir = fs::temp_directory_path() / "ecgssl_stream_truncated";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(records + "/ptbxl/00001_hr.hea", dir / "00001_hr.hea");
  CHECK(message_of((dir / "00001_hr").string()).find("cannot open") != std::string::npos);
  fs::copy_file(records + "/ptbxl/00001_hr.dat", dir / "00001_hr.dat");
  fs::resize_file(dir / "00001_hr.dat", 2 * 12 * 4000);
  const auto truncated = message_of((dir / "00001_hr").string());
  CHECK(truncated.find("00001_hr.dat") != std::string::npos);
  CHECK(truncated.find("truncated: 4000 frames") != std::string::npos);
  fs::remove(dir / "00001_hr.dat");
  fs::create_directory(dir / "00001_hr.dat");
  CHECK(message_of((dir / "00001_hr").string()).find("a directory") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("wfdb_stream: invalid samples stream as NaN") {
  // format 16's invalid value -32768 written at sample 3 of lead 1 of a copy of a real record
  const fs::path dir = fs::temp_directory_path() / "ecgssl_stream_invalid";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(records + "/ptbxl/00001_hr.hea", dir / "00001_hr.hea");
  fs::copy_file(records + "/ptbxl/00001_hr.dat", dir / "00001_hr.dat");
  {
    std::fstream f(dir / "00001_hr.dat", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp((3 * 12 + 1) * 2);
    const char invalid[2] = {0x00, static_cast<char>(0x80)};
    f.write(invalid, 2);
  }
  wfdb_stream s((dir / "00001_hr").string());
  ecgssl::tensor<float, 2> mv;
  REQUIRE(s.read(10, mv) == 10);
  CHECK(std::isnan(mv(1, 3)));
  CHECK_FALSE(std::isnan(mv(1, 2)));
  CHECK_FALSE(std::isnan(mv(0, 3)));
  fs::remove_all(dir);
}

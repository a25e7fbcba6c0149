// Record reader tests: every shipped record against wfdb-python reference arrays
// (tools/make_wfdb_fixtures.py), hand-encoded samples of each format, and bad input.
#include <doctest/doctest.h>

#include <ecgssl/io/wfdb_record.hpp>
#include <ecgssl/io/wfdb_stream.hpp>
#include <support/npy.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
using ecgssl::io::checksum_status;
using ecgssl::io::read_record;
using ecgssl::io::wfdb_record;

namespace {
const std::string data_dir = ECGSSL_TEST_DATA_DIR;
const std::string records = data_dir + "/records";

struct shipped {
  const char* id;    // fixture prefix under tests/data/io/wfdb
  const char* path;  // record path under tests/data/records, without extension
};

// Every WFDB record shipped in tests/data/records (all formats, frames, skew, multi-file,
// multi-segment, Challenge .mat).
const shipped all_records[] = {
    {"binformats", "wfdb/binformats"},     {"100_3chan", "wfdb/100_3chan"},
    {"3000003_0003", "wfdb/3000003_0003"}, {"310derive", "wfdb/310derive"},
    {"310derive_2", "wfdb/310derive_2"},   {"310derive_3", "wfdb/310derive_3"},
    {"311derive", "wfdb/311derive"},       {"311derive_2", "wfdb/311derive_2"},
    {"311derive_3", "wfdb/311derive_3"},   {"311derive_4", "wfdb/311derive_4"},
    {"test01_00s", "wfdb/test01_00s"},     {"test01_00s_frame", "wfdb/test01_00s_frame"},
    {"test01_00s_skew", "wfdb/test01_00s_skew"}, {"test01_00s_skewframe", "wfdb/test01_00s_skewframe"},
    {"03700181", "wfdb/03700181"},         {"s0010_re", "wfdb/s0010_re"},
    {"041s", "wfdb/041s/041s"},            {"00001_hr", "ptbxl/00001_hr"},
    {"ludb_3", "ludb/3"},                  {"HR00001", "challenge/HR00001"},
    {"A0001", "challenge/A0001"},          {"Q0001", "challenge/Q0001"},
    {"E00001", "challenge/E00001"},        {"JS00001", "challenge/JS00001"},
    {"JS45542", "challenge/JS45542"},      {"E00015", "challenge/E00015"},
    {"HR00599", "challenge/HR00599"},
};

ecgssl::testing::npy_array fixture(const std::string& id, const std::string& key) {
  return ecgssl::testing::read_npy(data_dir + "/io/wfdb/" + id + "_" + key + ".npy");
}

bool same_physical(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::abs(a - b) <= 1e-6;
}

// Writes `bytes` to `path`, creating folders.
void write_file(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A fresh folder per test case: ctest runs cases as separate processes, possibly in parallel.
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("ecgssl_io_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

template <class Error, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected an exception");
  return {};
}

// Decodes `n` samples of one signal stored in `format` from in-memory bytes.
std::vector<std::int32_t> decode_one(int format, const std::vector<unsigned char>& bytes, int n,
                                     const std::string& extra = "") {
  const std::string text = "r 1 100 " + std::to_string(n) + "\nr.dat " + std::to_string(format) + extra + "\n";
  const auto h = ecgssl::io::parse_wfdb_header(text, "mem.hea");
  wfdb_record rec;
  ecgssl::io::decode_record(h, [&](const ecgssl::io::wfdb_signal_spec&) { return std::span<const unsigned char>(bytes); }, rec);
  return {rec.digital.begin(), rec.digital.end()};
}
}  // namespace

TEST_CASE("every shipped record matches wfdb-python") {
  for (const auto& r : all_records) {
    const std::string id = r.id;
    CAPTURE(id);
    const wfdb_record rec = read_record(records + "/" + r.path);
    const auto meta = fixture(r.id, "meta");
    CHECK(rec.fs == meta.values[0]);
    REQUIRE(rec.n_samples == static_cast<std::int64_t>(meta.values[1]));
    REQUIRE(rec.n_leads() == static_cast<std::size_t>(meta.values[2]));
    REQUIRE(rec.digital.shape()[0] == rec.n_leads());
    REQUIRE(rec.physical.shape()[1] == static_cast<std::size_t>(rec.n_samples));
    const auto n = static_cast<std::size_t>(rec.n_samples);
    const auto dh = fixture(r.id, "digital_head");
    const auto dt = fixture(r.id, "digital_tail");
    const auto ph = fixture(r.id, "physical_head");
    const auto pt = fixture(r.id, "physical_tail");
    const std::size_t head = dh.shape[1];
    const std::size_t tail = dt.shape[1];
    std::size_t digital_bad = 0;
    std::size_t physical_bad = 0;
    for (std::size_t l = 0; l < rec.n_leads(); ++l) {
      for (std::size_t t = 0; t < head; ++t) {
        digital_bad += rec.digital(l, t) != static_cast<std::int32_t>(dh.values[l * head + t]);
        physical_bad += !same_physical(rec.physical(l, t), ph.values[l * head + t]);
      }
      for (std::size_t t = 0; t < tail; ++t) {
        digital_bad += rec.digital(l, n - tail + t) != static_cast<std::int32_t>(dt.values[l * tail + t]);
        physical_bad += !same_physical(rec.physical(l, n - tail + t), pt.values[l * tail + t]);
      }
    }
    CHECK(digital_bad == 0);
    CHECK(physical_bad == 0);
    // Whole-record sums: every sample takes part.
    const auto dsum = fixture(r.id, "digital_sum");
    const auto psum = fixture(r.id, "physical_sum");
    const auto nans = fixture(r.id, "nan_count");
    std::int64_t total_nan = 0;
    for (std::size_t l = 0; l < rec.n_leads(); ++l) {
      std::int64_t ds = 0;
      double ps = 0.0;
      std::int64_t nan_count = 0;
      for (std::size_t t = 0; t < n; ++t) {
        ds += rec.digital(l, t);
        if (std::isnan(rec.physical(l, t))) {
          ++nan_count;
        } else {
          ps += rec.physical(l, t);
        }
      }
      CHECK(ds == static_cast<std::int64_t>(dsum.values[l]));
      CHECK(ps == doctest::Approx(psum.values[l]).epsilon(1e-9).scale(1.0));
      CHECK(nan_count == static_cast<std::int64_t>(nans.values[l]));
      CHECK(rec.invalid_per_lead[l] == nan_count);
      total_nan += nan_count;
    }
    CHECK(rec.invalid_samples == total_nan);
    // The headers' checksums were written by WFDB tools / the Challenge: all must agree.
    CHECK(rec.checksums_ok());
  }
}

TEST_CASE("Challenge HR00001.mat holds the same samples as PTB-XL 00001_hr.dat") {
  const auto mat = read_record(records + "/challenge/HR00001");
  const auto dat = read_record(records + "/ptbxl/00001_hr.hea");
  REQUIRE(mat.digital.shape() == dat.digital.shape());
  CHECK(mat.digital == dat.digital);
  CHECK(mat.leads[0] == dat.leads[0]);
  CHECK(mat.leads[3] == "aVR");  // the Challenge wrote aVR where PTB-XL writes AVR
  CHECK(dat.leads[3] == "AVR");
  CHECK(mat.gains == dat.gains);
  CHECK(mat.units[0] == "mv");  // as written
  CHECK(dat.units[0] == "mV");
  for (std::size_t i = 0; i < mat.physical.size(); ++i) CHECK(mat.physical.data()[i] == dat.physical.data()[i]);
}

TEST_CASE("record metadata: leads as written, demographics and comments") {
  const auto a = read_record(records + "/challenge/A0001.hea");
  CHECK(a.name == "A0001");
  CHECK(a.leads == std::vector<std::string>{"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"});
  CHECK(a.age == 74.0);
  CHECK(a.sex == "Male");
  CHECK(a.dx == std::vector<std::string>{"59118001"});
  CHECK(a.comments.size() == 6);
  CHECK(a.gains[0] == 1000.0);
  CHECK(a.baselines[0] == 0);
  const auto hr = read_record(records + "/challenge/HR00001");
  CHECK(hr.age == 56.0);
  CHECK(hr.sex == "Female");
  CHECK(hr.dx == std::vector<std::string>{"251146004", "426783006"});
  const auto e = read_record(records + "/challenge/E00015");
  CHECK(e.name == "E00015.mat");
  CHECK(e.dx == std::vector<std::string>{"251146004", "284470004", "284470004"});  // duplicate kept
  CHECK(e.gains[0] == 4880.0);  // the known-wrong early-2020 gain is reported as written
  const auto ludb = read_record(records + "/ludb/3");
  CHECK(ludb.leads[3] == "avr");
  CHECK(ludb.age == 53.0);
  CHECK(ludb.sex == "M");
  CHECK(ludb.baselines[0] == -4);
  const auto mit = read_record(records + "/wfdb/100_3chan");
  CHECK_FALSE(mit.age.has_value());
  CHECK(mit.sex.empty());
  CHECK(mit.dx.empty());
  const auto multi = read_record(records + "/wfdb/041s/041s");
  CHECK(multi.leads[3] == "ABP");
  CHECK(multi.units[3] == "mmHg");
  CHECK(multi.samples_per_frame[0] == 4);
}

TEST_CASE("fast path reuses the caller's tensors") {
  wfdb_record rec;
  read_record(records + "/challenge/Q0001", rec);
  const auto* digital = rec.digital.data();
  const auto* physical = rec.physical.data();
  read_record(records + "/challenge/JS00001", rec);  // same shape: 12 x 5000
  CHECK(rec.digital.data() == digital);
  CHECK(rec.physical.data() == physical);
  CHECK(rec.name == "JS00001");
  const auto fresh = read_record(records + "/challenge/JS00001");
  CHECK(rec.digital == fresh.digital);
  ecgssl::io::wfdb_read_options no_physical;
  no_physical.compute_physical = false;
  read_record(records + "/challenge/A0001", rec, no_physical);
  CHECK(rec.physical.size() == 0);
  CHECK(rec.digital.shape()[1] == 7500);
}

TEST_CASE("hand-encoded samples decode in every format") {
  // Values chosen and packed by hand following WFDB signal(5).
  CHECK(decode_one(16, {0x34, 0x12, 0xFE, 0xFF}, 2) == std::vector<std::int32_t>{0x1234, -2});
  CHECK(decode_one(61, {0x12, 0x34, 0xFF, 0xFE}, 2) == std::vector<std::int32_t>{0x1234, -2});
  CHECK(decode_one(80, {0x80, 0x00, 0xFF}, 3) == std::vector<std::int32_t>{0, -128, 127});
  CHECK(decode_one(160, {0x00, 0x80, 0x01, 0x00}, 2) == std::vector<std::int32_t>{0, -32767});
  CHECK(decode_one(24, {0xFF, 0xFF, 0xFF, 0x01, 0x02, 0x03}, 2) == std::vector<std::int32_t>{-1, 0x030201});
  CHECK(decode_one(32, {0x01, 0, 0, 0x80, 0xFF, 0xFF, 0xFF, 0x7F}, 2) ==
        std::vector<std::int32_t>{-2147483647, 2147483647});
  // 212: 1 and -1 in three bytes; an odd trailing sample needs two bytes.
  CHECK(decode_one(212, {0x01, 0xF0, 0xFF, 0x05, 0x08}, 3) == std::vector<std::int32_t>{1, -1, -2043});
  // 310: 5, -3, 100 -> words 0x200A, 0x1FFA (s2 split 5 low bits / 5 high bits).
  CHECK(decode_one(310, {0x0A, 0x20, 0xFA, 0x1F}, 3) == std::vector<std::int32_t>{5, -3, 100});
  // 311: 5 | -3 << 10 | 100 << 20 = 0x064FF405.
  CHECK(decode_one(311, {0x05, 0xF4, 0x4F, 0x06}, 3) == std::vector<std::int32_t>{5, -3, 100});
  // 8: first differences from the initial value 10 (ADC zero 0, initial value field 10).
  CHECK(decode_one(8, {0x01, 0xFE, 0x7F}, 3, " 200 8 0 10") == std::vector<std::int32_t>{11, 9, 136});
}

TEST_CASE("invalid samples become NaN and are counted") {
  // Format 16, two signals, three frames; -32768 is the invalid value.
  const std::vector<unsigned char> bytes = {0x0A, 0x00, 0x00, 0x80, 0x00, 0x80, 0x14, 0x00, 0x1E, 0x00, 0x28, 0x00};
  const auto h = ecgssl::io::parse_wfdb_header("r 2 100 3\nr.dat 16 10(2)/uV 16 0 0 0 0 a\nr.dat 16 5 16 0\n", "n.hea");
  wfdb_record rec;
  ecgssl::io::decode_record(h, [&](const auto&) { return std::span<const unsigned char>(bytes); }, rec);
  CHECK(rec.digital(0, 0) == 10);
  CHECK(rec.digital(1, 0) == -32768);
  CHECK(rec.digital(0, 1) == -32768);
  CHECK(rec.physical(0, 0) == doctest::Approx((10 - 2) / 10.0));
  CHECK(std::isnan(rec.physical(1, 0)));
  CHECK(std::isnan(rec.physical(0, 1)));
  CHECK(rec.physical(1, 2) == doctest::Approx(40 / 5.0));
  CHECK(rec.invalid_samples == 2);
  CHECK(rec.invalid_per_lead == std::vector<std::int64_t>{1, 1});
  CHECK(rec.units[0] == "uV");
}

TEST_CASE("checksum mismatch is reported, or thrown when strict") {
  const auto dir = scratch("checksum");
  std::string hea = read_file(records + "/ptbxl/00001_hr.hea");
  const auto at = hea.find(" 13047 ");
  REQUIRE(at != std::string::npos);
  hea.replace(at, 7, " 13048 ");
  write_file(dir / "00001_hr.hea", hea);
  fs::copy_file(records + "/ptbxl/00001_hr.dat", dir / "00001_hr.dat");
  const auto rec = read_record((dir / "00001_hr").string());
  CHECK(rec.checksums[0] == checksum_status::mismatch);
  CHECK(rec.checksums[1] == checksum_status::ok);
  CHECK_FALSE(rec.checksums_ok());
  ecgssl::io::wfdb_read_options strict;
  strict.strict_checksum = true;
  const auto msg = message_of<ecgssl::data_error>([&] { (void)read_record((dir / "00001_hr").string(), strict); });
  CHECK(msg.find("00001_hr.hea:2") != std::string::npos);
  CHECK(msg.find("'checksum'") != std::string::npos);
  CHECK(msg.find("13048") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("bad signal files throw io_error naming file and field") {
  using ecgssl::io_error;
  const auto dir = scratch("bad");
  const std::string hea = read_file(records + "/ptbxl/00001_hr.hea");
  const std::string dat = read_file(records + "/ptbxl/00001_hr.dat");
  // Truncated signal file.
  write_file(dir / "t.hea", hea);
  write_file(dir / "00001_hr.dat", dat.substr(0, dat.size() - 7));
  auto msg = message_of<io_error>([&] { (void)read_record((dir / "t").string()); });
  CHECK(msg.find("00001_hr.dat") != std::string::npos);
  CHECK(msg.find("truncated") != std::string::npos);
  CHECK(msg.find("120000 bytes") != std::string::npos);  // what was expected
  // Header with more signals than the file holds: 13 signal lines for a 12-signal file.
  write_file(dir / "00001_hr.dat", dat);
  std::string extra = hea;
  extra.replace(0, extra.find('\n'), "00001_hr 13 500 5000");
  extra += "00001_hr.dat 16 1000.0(0)/mV 16 0 0 0 0 X\n";
  write_file(dir / "x.hea", extra);
  msg = message_of<io_error>([&] { (void)read_record((dir / "x").string()); });
  CHECK(msg.find("13 signal(s)") != std::string::npos);
  // Missing signal file.
  std::string missing = hea;
  for (std::size_t p = 0; (p = missing.find("00001_hr.dat", p)) != std::string::npos;) missing.replace(p, 12, "gone.dat");
  write_file(dir / "m.hea", missing);
  msg = message_of<io_error>([&] { (void)read_record((dir / "m").string()); });
  CHECK(msg.find("gone.dat") != std::string::npos);
  CHECK(msg.find("m.hea:2") != std::string::npos);
  // Missing header.
  msg = message_of<io_error>([&] { (void)read_record((dir / "nothing").string()); });
  CHECK(msg.find("nothing.hea") != std::string::npos);
  // Garbage bytes as header.
  write_file(dir / "g.hea", std::string("\x7f\x45\x4c\x46\x02\x01\x01\xff\xfe\n\x13\x37", 12));
  CHECK_THROWS_AS((void)read_record((dir / "g").string()), io_error);
  // Byte offset past the end.
  write_file(dir / "o.hea", "o 1 500 10\n00001_hr.dat 16+999999 200\n");
  msg = message_of<io_error>([&] { (void)read_record((dir / "o").string()); });
  CHECK(msg.find("'byte offset'") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("bad MAT headers throw io_error naming the MAT field") {
  using ecgssl::io_error;
  const auto dir = scratch("mat");
  const std::string hea = read_file(records + "/challenge/HR00001.hea");
  const std::string mat = read_file(records + "/challenge/HR00001.mat");
  write_file(dir / "HR00001.hea", hea);
  auto with = [&](std::size_t offset, std::int32_t value) {
    std::string m = mat;
    std::memcpy(m.data() + offset, &value, 4);
    write_file(dir / "HR00001.mat", m);
    return message_of<io_error>([&] { (void)read_record((dir / "HR00001").string()); });
  };
  auto msg = with(0, 0);  // type 0 = double matrix
  CHECK(msg.find("HR00001.mat") != std::string::npos);
  CHECK(msg.find("'MAT type'") != std::string::npos);
  CHECK(msg.find("30") != std::string::npos);
  CHECK(with(4, 11).find("'MAT rows'") != std::string::npos);
  CHECK(with(8, 4999).find("'MAT cols'") != std::string::npos);
  CHECK(with(12, 1).find("'MAT imagf'") != std::string::npos);
  CHECK(with(16, 1000000).find("'MAT name length'") != std::string::npos);
  CHECK(with(16, 8).find("'byte offset'") != std::string::npos);
  write_file(dir / "HR00001.mat", mat.substr(0, 10));
  CHECK(message_of<io_error>([&] { (void)read_record((dir / "HR00001").string()); }).find("MAT header") != std::string::npos);
  write_file(dir / "HR00001.mat", mat + "xx");
  CHECK(message_of<io_error>([&] { (void)read_record((dir / "HR00001").string()); }).find("'MAT data size'") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("zero gain in a record header is a data_error") {
  const auto dir = scratch("zero_gain");
  write_file(dir / "z.hea", "z 1 500 2\nz.dat 16 0/mV 16 0\n");
  write_file(dir / "z.dat", std::string(4, '\0'));
  const auto msg = message_of<ecgssl::data_error>([&] { (void)read_record((dir / "z").string()); });
  CHECK(msg.find("z.hea:2") != std::string::npos);
  CHECK(msg.find("'adc_gain'") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("sample count is inferred from the file when the header omits it") {
  const std::vector<unsigned char> bytes = {1, 0, 2, 0, 3, 0, 4, 0, 5};  // odd trailing byte ignored
  const auto h = ecgssl::io::parse_wfdb_header("r 2 100\nr.dat 16\nr.dat 16\n", "i.hea");
  wfdb_record rec;
  ecgssl::io::decode_record(h, [&](const auto&) { return std::span<const unsigned char>(bytes); }, rec);
  CHECK(rec.n_samples == 2);
  CHECK(rec.digital(1, 1) == 4);
}

TEST_CASE("variable-layout multi-segment record with a null segment") {
  // Hand-made record following WFDB header(5): a layout segment naming ECG (100/mV) and ABP
  // (10(5)/mmHg), segment A with both signals, a one-sample null segment, and segment B with
  // ECG only at another gain (50/mV).
  const auto dir = scratch("layout");
  write_file(dir / "m.hea", "m/4 2 100 6\nm_layout 0\nsegA 2\n~ 1\nsegB 3\n");
  write_file(dir / "m_layout.hea", "m_layout 2 100 0\n~ 0 100/mV 16 0 0 0 0 ECG\n~ 16 10(5)/mmHg 16 0 0 0 0 ABP\n");
  write_file(dir / "segA.hea", "segA 2 100 2\nsegA.dat 16 100/mV 16 0 0 0 0 ECG\nsegA.dat 16 10(5)/mmHg 16 0 0 0 0 ABP\n");
  write_file(dir / "segA.dat", std::string("\x64\x00\x0f\x00\xc8\x00\x19\x00", 8));  // (100, 15), (200, 25)
  write_file(dir / "segB.hea", "segB 1 100 3\nsegB.dat 16 50/mV 16 0 0 0 0 ECG\n");
  write_file(dir / "segB.dat", std::string("\x32\x00\xce\xff\x64\x00", 6));  // 50, -50, 100
  const auto rec = read_record((dir / "m").string());
  CHECK(rec.n_samples == 6);
  CHECK(rec.leads == std::vector<std::string>{"ECG", "ABP"});
  CHECK(rec.units == std::vector<std::string>{"mV", "mmHg"});
  CHECK(rec.gains == std::vector<double>{100.0, 10.0});
  CHECK(rec.baselines == std::vector<std::int32_t>{0, 5});
  const double nan = std::nan("");
  const std::vector<double> ecg = {1.0, 2.0, nan, 1.0, -1.0, 2.0};
  const std::vector<double> abp = {1.0, 2.0, nan, nan, nan, nan};
  const std::vector<std::int32_t> ecg_digital = {100, 200, -32768, 100, -100, 200};  // B re-quantised to 100/mV
  for (std::size_t t = 0; t < 6; ++t) {
    CAPTURE(t);
    CHECK(same_physical(rec.physical(0, t), ecg[t]));
    CHECK(same_physical(rec.physical(1, t), abp[t]));
    CHECK(rec.digital(0, t) == ecg_digital[t]);
  }
  CHECK(rec.digital(1, 1) == 25);
  CHECK(rec.digital(1, 4) == -32768);
  CHECK(rec.invalid_per_lead == std::vector<std::int64_t>{1, 4});
  CHECK(rec.invalid_samples == 5);
  // A segment whose header disagrees with the master header's segment length.
  write_file(dir / "bad.hea", "bad/2 1 100 5\nsegA 2\nsegB 3\n");
  write_file(dir / "segB.hea", "segB 1 100 2\nsegB.dat 16 50/mV 16 0\n");
  const auto msg = message_of<ecgssl::io_error>([&] { (void)read_record((dir / "bad").string()); });
  CHECK(msg.find("bad.hea:3") != std::string::npos);
  CHECK(msg.find("'segment length'") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("null signals are all invalid") {
  // "~" as file name or format 0 (WFDB header(5)): nothing stored, every sample invalid.
  const std::vector<unsigned char> bytes = {7, 0, 8, 0, 9, 0};
  const auto h = ecgssl::io::parse_wfdb_header("r 3 100 3\nr.dat 16 1 16 0 0 0 0 a\nx.dat 0 1 0 0 0 0 0 b\n~ 16 1 16 0 0 0 0 c\n");
  CHECK(h.signals[1].is_null());
  CHECK(h.signals[2].is_null());
  wfdb_record rec;
  ecgssl::io::decode_record(h, [&](const auto&) { return std::span<const unsigned char>(bytes); }, rec);
  CHECK(rec.physical(0, 2) == 9.0);
  for (std::size_t t = 0; t < 3; ++t) {
    CHECK(std::isnan(rec.physical(1, t)));
    CHECK(std::isnan(rec.physical(2, t)));
    CHECK(rec.digital(1, t) == -32768);
  }
  CHECK(rec.invalid_per_lead == std::vector<std::int64_t>{0, 3, 3});
}

// Issue 22: a z-scored record (units NU, standard deviations of the lead) must never pass for
// millivolts. Every millivolt path (read_millivolts: pretrain, finetune, evaluate, embed,
// predict, manifest) and the streaming reader refuse it, naming the file, lead and units.
TEST_CASE("read_millivolts: units that are not a voltage are refused, naming file, lead and units") {
  const fs::path dir = fs::temp_directory_path() / "ecgssl_units";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(records + "/ptbxl/00001_hr.dat", dir / "00001_hr.dat");
  std::ifstream in(records + "/ptbxl/00001_hr.hea");
  std::stringstream text;
  text << in.rdbuf();
  std::string header = text.str();
  const auto write_with = [&](const std::string& units) {
    std::string h = header;
    for (std::size_t at = h.find("/mV"); at != std::string::npos; at = h.find("/mV", at + 1)) h.replace(at + 1, 2, units);
    std::ofstream(dir / "00001_hr.hea") << h;
  };
  const auto message = [&](auto&& read) {
    try {
      read();
    } catch (const ecgssl::data_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  write_with("NU");
  const std::string path = (dir / "00001_hr").string();
  const auto e = message([&] { (void)ecgssl::io::read_millivolts(path); });
  CHECK(e.find("00001_hr") != std::string::npos);
  CHECK(e.find("units of lead I") != std::string::npos);
  CHECK(e.find("'NU' (normalised units") != std::string::npos);
  CHECK(message([&] { ecgssl::io::wfdb_stream s(path); }).find("'NU'") != std::string::npos);
  write_with("mmHg");
  CHECK(message([&] { (void)ecgssl::io::read_millivolts(path); }).find("'mmHg'") != std::string::npos);
  // uV is a voltage: the values come back as millivolts, 1000 times smaller than the mV reading
  write_with("uV");
  const auto micro = ecgssl::io::read_millivolts(path);
  write_with("mV");
  const auto milli = ecgssl::io::read_millivolts(path);
  CHECK(micro(0, 100) == doctest::Approx(milli(0, 100) * 1e-3));
  CHECK(ecgssl::io::millivolt_scale("mv") == 1.0);
  CHECK_FALSE(ecgssl::io::millivolt_scale("NU").has_value());
  fs::remove_all(dir);
}

#include <ecgssl/core/philox.hpp>
#include <ecgssl/io/manifest.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

using namespace ecgssl::io;

namespace {
manifest sample_manifest() {
  manifest m;
  manifest_entry a;
  a.path = "cpsc/A0001.hea";
  a.sampling_frequency = 500;
  a.samples = 7500;
  a.leads = {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"};
  a.labels = {164889003, 59118001};
  a.age = 74;
  a.sex = "Male";
  a.record_id = "A0001";
  m.entries.push_back(a);
  manifest_entry b;
  b.path = "odd, \"quoted\"\nname.hea";
  b.sampling_frequency = 360.5;
  b.samples = 650000;
  b.leads = {"MLII", "V5"};
  b.sex = "";
  b.record_id = "100";
  b.patient_id = "patient001";
  b.skip_reason = "sampling frequency 360.5 Hz (required 500 Hz)";
  m.entries.push_back(b);
  return m;
}

std::string error_of(const std::string& csv) {
  std::istringstream in(csv);
  try {
    (void)manifest::read_csv(in, "m.csv");
  } catch (const ecgssl::io_error& e) {
    return e.what();
  }
  return "no error";
}

const std::string header = "path,sampling_frequency,samples,leads,labels,age,sex,record_id,patient_id,skip_reason\n";
}  // namespace

TEST_CASE("a manifest survives a CSV round trip, quoting included") {
  const auto m = sample_manifest();
  std::ostringstream out;
  m.write_csv(out);
  const std::string text = out.str();
  CHECK(text.rfind(header, 0) == 0);
  CHECK(text.find("cpsc/A0001.hea,500,7500,I II III aVR aVL aVF V1 V2 V3 V4 V5 V6,164889003 59118001,74,Male,A0001,,\n") !=
        std::string::npos);
  std::istringstream in(text);
  const auto back = manifest::read_csv(in);
  REQUIRE(back.entries.size() == 2);
  CHECK(back.entries[0] == m.entries[0]);
  CHECK(back.entries[1] == m.entries[1]);
  CHECK(back.usable_indices() == std::vector<std::size_t>{0});
}

TEST_CASE("manifest errors name the line and the column") {
  CHECK(error_of("") == "I/O error in m.csv:1: empty file (expected a header line)");
  CHECK(error_of("path,fs\n").find("2 columns in the header") != std::string::npos);
  CHECK(error_of("path,sampling_frequency,samples,leads,labels,age,sex,record_id,patient,skip_reason\n")
            .find("field 'patient_id'") != std::string::npos);
  const std::string bad_samples = error_of(header + "a.hea,500,5000,I,,,,a,,\nb.hea,500,12x,I,,,,b,,\n");
  CHECK(bad_samples.find("m.csv:3") != std::string::npos);
  CHECK(bad_samples.find("field 'samples'") != std::string::npos);
  CHECK(bad_samples.find("'12x'") != std::string::npos);
  CHECK(error_of(header + "a.hea,0,5000,I,,,,a,,\n").find("field 'sampling_frequency'") != std::string::npos);
  CHECK(error_of(header + "a.hea,500,5000,I,164889003 Unknown,,,a,,\n").find("field 'labels'") != std::string::npos);
  CHECK(error_of(header + "a.hea,500,5000,I,,old,,a,,\n").find("field 'age'") != std::string::npos);
  CHECK(error_of(header + "a.hea,500,5000\n").find("m.csv:2: 3 fields") != std::string::npos);
  CHECK(error_of(header + "\"a.hea,500,5000,I,,,,a,,\n").find("unterminated") != std::string::npos);
  CHECK(error_of(header + ",500,5000,I,,,,a,,\n").find("empty record path") != std::string::npos);
  CHECK_THROWS_AS((void)manifest::load("/nonexistent/manifest.csv"), ecgssl::io_error);
}

TEST_CASE("scan_records applies the reference's skips and keeps unreadable records with a reason") {
  const std::vector<std::filesystem::path> headers{"/data/a/A0001.hea", "/data/a/S0001.hea", "/data/b/bad.hea",
                                                   "/data/b/short.hea", "/data/b/two_lead.hea"};
  auto reader = [](const std::filesystem::path& p) {
    manifest_entry e;
    e.sampling_frequency = 500;
    e.samples = 5000;
    e.leads = {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"};
    const auto stem = p.stem().string();
    if (stem == "S0001") e.sampling_frequency = 1000;
    if (stem == "bad") throw ecgssl::io_error(ecgssl::in_file(p.string(), "format"), "format 999 is unknown");
    if (stem == "short") e.samples = 2000;
    if (stem == "two_lead") e.leads = {"i", "ii"};
    return e;
  };
  scan_options options;
  options.required_sampling_frequency = 500;
  options.min_samples = 2500;
  options.required_leads = lead_set::parse("3");
  options.root = "/data";
  const auto m = scan_records(headers, reader, options);
  REQUIRE(m.entries.size() == 5);
  CHECK(m.entries[0].path == "a/A0001.hea");
  CHECK(m.entries[0].record_id == "A0001");
  CHECK(m.entries[0].usable());
  CHECK(m.entries[1].skip_reason == "sampling frequency 1000 Hz (required 500 Hz)");
  CHECK(m.entries[2].skip_reason.find("format 999 is unknown") != std::string::npos);
  CHECK(m.entries[2].path == "b/bad.hea");
  CHECK(m.entries[3].skip_reason == "2000 samples (fewer than 2500)");
  CHECK(m.entries[4].skip_reason == "missing leads V2");
}

TEST_CASE("find_files lists matching files recursively in sorted order") {
  const auto root = std::filesystem::temp_directory_path() / "ecgssl_test_find_files";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root / "b");
  std::filesystem::create_directories(root / "a");
  for (const char* name : {"b/z.hea", "a/y.hea", "a/y.mat", "top.hea"}) std::ofstream(root / name) << "x";
  const auto files = find_files(root, ".hea");
  REQUIRE(files.size() == 3);
  CHECK(files[0] == root / "a/y.hea");
  CHECK(files[1] == root / "b/z.hea");
  CHECK(files[2] == root / "top.hea");
  std::filesystem::remove_all(root);
  CHECK_THROWS_AS((void)find_files(root, ".hea"), ecgssl::io_error);
}

TEST_CASE("random damage to a manifest gives an io_error or a manifest, nothing else") {
  std::ostringstream out;
  sample_manifest().write_csv(out);
  const std::string good = out.str();
  const std::string alphabet = ",\"\n\r ab0123456789.-";
  ecgssl::random_stream rng(7, 1);
  std::uint64_t draw = 0;
  int errors = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string text = good;
    const int edits = 1 + static_cast<int>(rng.below(draw++, 4));
    for (int k = 0; k < edits; ++k) {
      const std::size_t at = rng.below(draw++, static_cast<std::uint32_t>(text.size()));
      text[at] = alphabet[rng.below(draw++, static_cast<std::uint32_t>(alphabet.size()))];
    }
    std::istringstream in(text);
    try {
      (void)manifest::read_csv(in, "damaged.csv");
    } catch (const ecgssl::io_error&) {
      ++errors;
    }
  }
  CHECK(errors > 0);
}

TEST_CASE("the fold column: written only when a record has one, read back, checked") {
  auto m = sample_manifest();
  std::ostringstream plain;
  m.write_csv(plain);
  CHECK(plain.str().rfind(header, 0) == 0);  // no record has a fold: ten columns as before
  m.entries[0].fold = 9;
  std::ostringstream with_folds;
  m.write_csv(with_folds);
  const std::string text = with_folds.str();
  CHECK(text.rfind("path,sampling_frequency,samples,leads,labels,age,sex,record_id,patient_id,skip_reason,fold\n", 0) == 0);
  CHECK(text.find("164889003 59118001,74,Male,A0001,,,9\n") != std::string::npos);
  std::istringstream in(text);
  const auto back = manifest::read_csv(in);
  REQUIRE(back.entries.size() == 2);
  CHECK(back.entries[0].fold == 9);
  CHECK_FALSE(back.entries[1].fold.has_value());
  CHECK(back.entries[0] == m.entries[0]);
  CHECK(back.entries[1] == m.entries[1]);

  const std::string folds_header = "path,sampling_frequency,samples,leads,labels,age,sex,record_id,patient_id,skip_reason,fold\n";
  for (const char* bad : {"0", "1001", "-3", "x", "2.5", "99999999999999999999"}) {
    CAPTURE(bad);
    const std::string e = error_of(folds_header + "a.hea,500,5000,I,,,,a,,," + bad + "\n");
    CHECK(e.find("m.csv:2") != std::string::npos);
    CHECK(e.find("field 'fold'") != std::string::npos);
  }
  CHECK(error_of(folds_header + "a.hea,500,5000,I,,,,a,,\n").find("10 fields (expected 11 fields, as the header line)") != std::string::npos);
  CHECK(error_of(header + "a.hea,500,5000,I,,,,a,,,3\n").find("11 fields") != std::string::npos);
  CHECK(error_of("path,sampling_frequency,samples,leads,labels,age,sex,record_id,patient_id,skip_reason,folds\n")
            .find("header column 11 is 'folds'") != std::string::npos);
}

TEST_CASE("the superclasses column: PTB-XL's names only, after or before the folds, each column once") {
  auto m = sample_manifest();
  m.entries[0].superclasses = {"MI", "STTC"};
  std::ostringstream text;
  m.write_csv(text);
  CHECK(text.str().rfind("path,sampling_frequency,samples,leads,labels,age,sex,record_id,patient_id,skip_reason,superclasses\n", 0) == 0);
  CHECK(text.str().find(",A0001,,,MI STTC\n") != std::string::npos);
  std::istringstream in(text.str());
  const auto back = manifest::read_csv(in);
  REQUIRE(back.entries.size() == 2);
  CHECK(back.entries[0] == m.entries[0]);
  CHECK(back.entries[1].superclasses.empty());

  m.entries[1].fold = 4;
  std::ostringstream both;
  m.write_csv(both);
  CHECK(both.str().find("skip_reason,fold,superclasses\n") != std::string::npos);
  std::istringstream both_in(both.str());
  CHECK(manifest::read_csv(both_in).entries == m.entries);

  // A file may put the optional columns in either order.
  const std::string swapped = "path,sampling_frequency,samples,leads,labels,age,sex,record_id,patient_id,skip_reason,superclasses,fold\n"
                              "a.hea,500,5000,I,,,,a,,,NORM HYP,7\n";
  std::istringstream swapped_in(swapped);
  const auto read = manifest::read_csv(swapped_in);
  CHECK(read.entries[0].fold == 7);
  CHECK(read.entries[0].superclasses == std::vector<std::string>{"NORM", "HYP"});

  const std::string with = "path,sampling_frequency,samples,leads,labels,age,sex,record_id,patient_id,skip_reason,superclasses\n";
  for (const char* bad : {"AFIB", "norm", "NORM NORM", "MI,", "NORM;MI"}) {
    CAPTURE(bad);
    const std::string e = error_of(with + "a.hea,500,5000,I,,,,a,,,\"" + bad + "\"\n");
    CHECK(e.find("m.csv:2") != std::string::npos);
    CHECK(e.find("field 'superclasses'") != std::string::npos);
  }
  CHECK(error_of("path,sampling_frequency,samples,leads,labels,age,sex,record_id,patient_id,skip_reason,fold,fold\n")
            .find("header column 12 is 'fold'") != std::string::npos);
  CHECK(error_of("path,sampling_frequency,samples,leads,labels,age,sex,record_id,patient_id,skip_reason,superclasses,x\n")
            .find("header column 12 is 'x'") != std::string::npos);
}

// `--preprocess` (data/preprocessing.hpp): bandpass,zscore of a real record against numpy/scipy
// (tools/make_preprocess_fixture.py); records already z-scored (units NU) are z-scored only;
// `none` stays the millivolt reader; a checkpoint's recorded choice wins over a different request.
#include <doctest/doctest.h>

#include <ecgssl/data/preprocessing.hpp>
#include <support/npy.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using ecgssl::data::preprocessing;

namespace {
const std::string record = std::string(ECGSSL_TEST_DATA_DIR) + "/records/ptbxl/00001_hr";

// A copy of the record with every lead's units replaced (`count` leads, from the first).
std::string copy_with_units(const std::string& units, std::size_t count = 12) {
  const fs::path dir = fs::temp_directory_path() / ("ecgssl_preprocess_" + units + std::to_string(count));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(record + ".dat", dir / "00001_hr.dat");
  std::ifstream in(record + ".hea");
  std::ofstream out(dir / "00001_hr.hea");
  std::size_t replaced = 0;
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("/mV");
    if (at != std::string::npos && replaced < count) {
      line.replace(at + 1, 2, units);
      ++replaced;
    }
    out << line << "\n";
  }
  return (dir / "00001_hr").string();
}
}  // namespace

TEST_CASE("preprocessing: bandpass,zscore of a real record equals scipy's sosfiltfilt and numpy's z-score") {
  const auto expected = ecgssl::testing::read_npy(std::string(ECGSSL_TEST_DATA_DIR) + "/signal/preprocess_ptbxl00001_bandpass_zscore.npy");
  REQUIRE(expected.shape == std::vector<std::size_t>{12, 1000});
  const auto x = ecgssl::data::read_model_input(record, preprocessing::bandpass_zscore);
  REQUIRE(x.shape()[0] == 12);
  REQUIRE(x.shape()[1] == 5000);
  double worst = 0;
  for (std::size_t l = 0; l < 12; ++l)
    for (std::size_t t = 0; t < 1000; ++t) worst = std::max(worst, std::abs(double(x(l, 5 * t)) - expected.values[l * 1000 + t]));
  MESSAGE("max |ecgssl - scipy| = " << worst << " (values up to about 7)");
  // float32 samples and output, double inside: a few float32 ulps of values up to 7
  CHECK(worst < 1e-5);
  // none is the millivolt reader, bit for bit
  const auto mv = ecgssl::data::read_model_input(record, preprocessing::none);
  CHECK(mv == ecgssl::io::read_millivolts(record));
}

TEST_CASE("preprocessing: NU records are z-scored only, refused as millivolts, and never mixed with voltages") {
  const auto nu = copy_with_units("NU");
  CHECK_THROWS_AS((void)ecgssl::data::read_model_input(nu, preprocessing::none), ecgssl::data_error);
  const auto z = ecgssl::data::read_model_input(nu, preprocessing::bandpass_zscore);
  // independently: the stored values (adu / 1000, here "NU") z-scored per lead, in double
  const auto raw = ecgssl::io::read_record(nu);
  double worst = 0;
  for (std::size_t l = 0; l < 12; ++l) {
    double mean = 0, var = 0;
    const std::size_t n = static_cast<std::size_t>(raw.n_samples);
    for (std::size_t t = 0; t < n; ++t) mean += static_cast<float>(raw.physical(l, t));
    mean /= static_cast<double>(n);
    for (std::size_t t = 0; t < n; ++t) var += std::pow(static_cast<float>(raw.physical(l, t)) - mean, 2);
    const double sd = std::sqrt(var / static_cast<double>(n));
    for (std::size_t t = 0; t < n; ++t) worst = std::max(worst, std::abs((static_cast<float>(raw.physical(l, t)) - mean) / sd - z(l, t)));
  }
  CHECK(worst < 1e-5);
  const auto mixed = copy_with_units("NU", 3);
  try {
    (void)ecgssl::data::read_model_input(mixed, preprocessing::bandpass_zscore);
    FAIL("a record with NU and mV leads was read");
  } catch (const ecgssl::data_error& e) {
    CHECK(std::string(e.what()).find("3 of 12 leads in NU") != std::string::npos);
  }
}

TEST_CASE("preprocessing: names, and a checkpoint's recorded choice against a request") {
  using ecgssl::data::preprocessing_for;
  const auto where = ecgssl::at_field("--preprocess");
  CHECK(ecgssl::data::parse_preprocessing("bandpass,zscore", where) == preprocessing::bandpass_zscore);
  CHECK_THROWS_AS(ecgssl::data::parse_preprocessing("zscore", where), ecgssl::config_error);
  CHECK(preprocessing_for(std::nullopt, "", "ck") == preprocessing::none);
  CHECK(preprocessing_for(preprocessing::bandpass_zscore, "", "ck") == preprocessing::bandpass_zscore);
  CHECK(preprocessing_for(std::nullopt, "bandpass,zscore", "ck") == preprocessing::bandpass_zscore);
  try {
    (void)preprocessing_for(preprocessing::bandpass_zscore, "none", "model.safetensors");
    FAIL("a mismatch was accepted");
  } catch (const ecgssl::config_error& e) {
    CHECK(std::string(e.what()).find("model.safetensors was trained on 'bandpass,zscore' data") != std::string::npos);
  }
  CHECK(ecgssl::data::recorded_preprocessing(std::string(), "ck") == std::nullopt);
  CHECK(ecgssl::data::recorded_preprocessing(std::string("none"), "ck") == preprocessing::none);
}

#include <ecgssl/core/error.hpp>

#include <doctest/doctest.h>

#include <string>

TEST_CASE("error messages name what, where and what was expected") {
  ecgssl::error_location where;
  where.file = "data/A0001.hea";
  where.line = 3;
  where.field = "adc_gain";
  const ecgssl::io_error e(where, "gain is 0", "a positive number");
  const std::string message = e.what();
  CHECK(message == "I/O error in data/A0001.hea:3: field 'adc_gain': gain is 0 (expected a positive number)");
  CHECK(e.problem() == "gain is 0");
  CHECK(e.expected() == "a positive number");
  CHECK(e.where().file == "data/A0001.hea");
}

TEST_CASE("error subclasses are all catchable as ecgssl::error") {
  auto thrower = [](int which) {
    switch (which) {
      case 0: throw ecgssl::io_error(ecgssl::in_file("x.dat"), "truncated");
      case 1: throw ecgssl::shape_error(ecgssl::at_field("x"), "got [2]", "[3]");
      case 2: throw ecgssl::config_error(ecgssl::at_field("--leads"), "unknown lead 'V7'", "I, II, ...");
      case 3: throw ecgssl::data_error(ecgssl::in_file("r.mat", "val"), "NaN sample");
      default: throw ecgssl::cuda_error({}, "no device");
    }
  };
  const char* kinds[] = {"I/O", "shape", "configuration", "data", "CUDA"};
  for (int i = 0; i < 5; ++i) {
    try {
      thrower(i);
      FAIL("no throw");
    } catch (const ecgssl::error& e) {
      CHECK(e.kind() == kinds[i]);
      CHECK(std::string(e.what()).find(kinds[i]) == 0);
    }
  }
}

TEST_CASE("locations print only the parts they have") {
  ecgssl::error_location binary;
  binary.file = "r.dat";
  binary.byte_offset = 1024;
  CHECK(binary.describe() == "r.dat: byte 1024");
  CHECK(ecgssl::at_field("--steps").describe() == "field '--steps'");
  CHECK(ecgssl::error_location{}.describe().empty());
  const ecgssl::config_error e({}, "bad", "");
  CHECK(std::string(e.what()) == "configuration error: bad");
}

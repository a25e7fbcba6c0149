#include <ecgssl/io/lead_names.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace ecgssl::io;

TEST_CASE("lead names normalise case and blanks to the canonical spelling") {
  CHECK(normalise_lead_name("AVR") == "aVR");
  CHECK(normalise_lead_name("avr") == "aVR");
  CHECK(normalise_lead_name("aVR") == "aVR");
  CHECK(normalise_lead_name(" avl\t") == "aVL");
  CHECK(normalise_lead_name("AVF") == "aVF");
  CHECK(normalise_lead_name("i") == "I");
  CHECK(normalise_lead_name("ii") == "II");
  CHECK(normalise_lead_name("Iii") == "III");
  CHECK(normalise_lead_name("v1") == "V1");
  CHECK(normalise_lead_name("V6") == "V6");
}

TEST_CASE("non-standard leads keep their spelling and have no canonical slot") {
  CHECK(normalise_lead_name("MLII") == "MLII");
  CHECK(normalise_lead_name(" V ") == "V");
  CHECK_FALSE(standard_lead_index("MLII").has_value());
  CHECK_FALSE(standard_lead_index("V7").has_value());
  CHECK_FALSE(standard_lead_index("IV").has_value());
  CHECK_FALSE(standard_lead_index("").has_value());
  CHECK_FALSE(is_standard_lead("vx"));
}

TEST_CASE("canonical order is I II III aVR aVL aVF V1 to V6") {
  const char* expected[] = {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"};
  for (std::size_t i = 0; i < 12; ++i) {
    CHECK(canonical_lead_names[i] == expected[i]);
    CHECK(lead_index(expected[i]) == i);
  }
  static_assert(standard_lead_index("avf") == std::optional<std::size_t>(5));
}

TEST_CASE("an unknown lead name throws naming it and the accepted names") {
  try {
    (void)lead_index("MLII", ecgssl::in_file("100.hea", "signal 1"));
    FAIL("expected config_error");
  } catch (const ecgssl::config_error& e) {
    const std::string what = e.what();
    CHECK(what.find("MLII") != std::string::npos);
    CHECK(what.find("100.hea") != std::string::npos);
    CHECK(what.find("I, II, III, aVR, aVL, aVF, V1, V2, V3, V4, V5, V6") != std::string::npos);
  }
}

#include <ecgssl/io/lead_set.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ecgssl::io;
using ecgssl::tensor;

TEST_CASE("named lead sets hold the paper's and the Challenge's leads") {
  CHECK(lead_set::parse("12").to_string() == "I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6");
  CHECK(lead_set::parse("6").to_string() == "I,II,III,aVR,aVL,aVF");
  CHECK(lead_set::parse("3").to_string() == "I,II,V2");
  CHECK(lead_set::parse("2").to_string() == "I,II");
  CHECK(lead_set::parse("1").to_string() == "I");
  CHECK(lead_set::parse("4").to_string() == "I,II,III,V2");
  CHECK(lead_set::parse("6-lead") == lead_set::parse("6"));
  CHECK(lead_set::parse(" 3leads ") == lead_set::parse("3"));
  // spec §3.1 slot indices: 3-lead = 0, 1, 7.
  const auto three = lead_set::parse("3");
  CHECK(three.slot(0) == 0);
  CHECK(three.slot(1) == 1);
  CHECK(three.slot(2) == 7);
  CHECK(three.mask() == ((1u << 0) | (1u << 1) | (1u << 7)));
  CHECK(lead_set().size() == 12);
  CHECK(lead_set().mask() == 0xFFFu);
}

TEST_CASE("a user list of names keeps its order and normalises case") {
  const auto set = lead_set::parse("v2, avr ,I");
  CHECK(set.to_string() == "V2,aVR,I");
  CHECK(set.size() == 3);
  CHECK(set.contains(7));
  CHECK_FALSE(set.contains(1));
  CHECK(lead_set::parse(set.to_string()) == set);
  const std::vector<std::string> names{"I", "II", "V2"};
  CHECK(lead_set::from_names(std::span<const std::string>(names)) == lead_set::parse("3"));
  CHECK(lead_set::from_names(names) == lead_set::parse("3"));
  CHECK(lead_set::from_names({"avf", "I"}).to_string() == "aVF,I");
}

TEST_CASE("bad lead sets throw config errors that name the problem") {
  CHECK_THROWS_AS((void)lead_set::parse("5"), ecgssl::config_error);
  CHECK_THROWS_AS((void)lead_set::parse("I,,II"), ecgssl::config_error);
  CHECK_THROWS_AS((void)lead_set::parse(""), ecgssl::config_error);
  try {
    (void)lead_set::parse("I,MLII");
    FAIL("expected config_error");
  } catch (const ecgssl::config_error& e) {
    CHECK(std::string(e.what()).find("MLII") != std::string::npos);
    CHECK(std::string(e.what()).find("aVR") != std::string::npos);
  }
  try {
    (void)lead_set::parse("I,ii,II");
    FAIL("expected config_error");
  } catch (const ecgssl::config_error& e) {
    CHECK(std::string(e.what()).find("II is listed twice") != std::string::npos);
  }
}

TEST_CASE("placing a subset fills the 12 canonical slots with zeros elsewhere") {
  const auto set = lead_set::parse("V2,I");
  tensor<float, 2> x = {{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}};
  const auto x12 = set.place(x);
  REQUIRE(x12.shape()[0] == 12);
  REQUIRE(x12.shape()[1] == 3);
  for (std::size_t l = 0; l < 12; ++l) {
    for (std::size_t t = 0; t < 3; ++t) {
      float expected = 0.f;
      if (l == 7) expected = 1.f + static_cast<float>(t);
      if (l == 0) expected = 4.f + static_cast<float>(t);
      CHECK(x12(l, t) == expected);
    }
  }
  const auto back = set.select(x12);
  CHECK(back == x);
  tensor<float, 2> wrong = {{1.f, 2.f}};
  CHECK_THROWS_AS((void)set.place(wrong), ecgssl::shape_error);
}

TEST_CASE("keep_only zeroes the leads outside the set") {
  tensor<double, 2> x12 = tensor<double, 2>::from_shape({12, 2});
  for (std::size_t l = 0; l < 12; ++l) {
    x12(l, 0) = static_cast<double>(l + 1);
    x12(l, 1) = -static_cast<double>(l + 1);
  }
  lead_set::parse("2").keep_only(x12);
  CHECK(x12(0, 0) == 1.0);
  CHECK(x12(1, 1) == -2.0);
  for (std::size_t l = 2; l < 12; ++l) CHECK(x12(l, 0) == 0.0);
}

TEST_CASE("limb leads are derived from I and II by the Einthoven and Goldberger relations") {
  // I = 0.3 mV, II = 1.1 mV -> III = 0.8, aVR = -0.7, aVL = -0.25, aVF = 0.95 (by hand).
  tensor<double, 2> x12 = tensor<double, 2>::from_shape({12, 1});
  std::fill(x12.begin(), x12.end(), 9.0);
  x12(0, 0) = 0.3;
  x12(1, 0) = 1.1;
  derive_limb_leads(x12);
  CHECK(x12(2, 0) == doctest::Approx(0.8));
  CHECK(x12(3, 0) == doctest::Approx(-0.7));
  CHECK(x12(4, 0) == doctest::Approx(-0.25));
  CHECK(x12(5, 0) == doctest::Approx(0.95));
  CHECK(x12(6, 0) == 9.0);  // precordial leads untouched
  tensor<double, 2> six = tensor<double, 2>::from_shape({6, 1});
  CHECK_THROWS_AS(derive_limb_leads(six), ecgssl::shape_error);
}

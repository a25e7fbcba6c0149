#include <ecgssl/version.hpp>

#include <doctest/doctest.h>

#include <string>

TEST_CASE("the version string agrees with its components") {
  const std::string expected = std::to_string(ECGSSL_VERSION_MAJOR) + "." +
                               std::to_string(ECGSSL_VERSION_MINOR) + "." +
                               std::to_string(ECGSSL_VERSION_PATCH);
  CHECK(expected == ECGSSL_VERSION_STRING);
  CHECK(ecgssl::version.major == ECGSSL_VERSION_MAJOR);
}

#include <ecgssl/ecgssl.hpp>

#include <doctest/doctest.h>

TEST_CASE("the umbrella header is self-contained") { CHECK(ecgssl::version.string != nullptr); }

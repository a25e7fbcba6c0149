#pragma once
// Where the tests find their data and the source tree. Every test translation unit gets this
// header through `-include` (tests/CMakeLists.txt). The absolute paths are compiled into one
// translation unit only (support/doctest_main.cpp): a path in every test's compile line would
// differ between two checkouts, so no test object could come from the compiler cache in another
// checkout (CI builds a fresh clone), and the suite would always build cold.
namespace ecgssl::testing {
const char* test_data_dir();
const char* source_dir();
}  // namespace ecgssl::testing

#define ECGSSL_TEST_DATA_DIR (::ecgssl::testing::test_data_dir())
#define ECGSSL_SOURCE_DIR (::ecgssl::testing::source_dir())

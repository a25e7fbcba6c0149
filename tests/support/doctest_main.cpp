// Test main: every test process gets a private temporary directory (TMPDIR, which
// std::filesystem::temp_directory_path() honours), because ctest runs the cases of one program as
// parallel processes and fixtures that write fixed file names would otherwise race.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace ecgssl::testing {
const char* test_data_dir() { return ECGSSL_TEST_DATA_DIR_ABSOLUTE; }
const char* source_dir() { return ECGSSL_SOURCE_DIR_ABSOLUTE; }
}  // namespace ecgssl::testing

int main(int argc, char** argv) {
  const auto base = std::filesystem::temp_directory_path();
  const auto private_dir = base / ("ecgssl-tests-" + std::to_string(::getpid()));
  std::error_code ec;
  std::filesystem::create_directories(private_dir, ec);
  if (!ec) ::setenv("TMPDIR", private_dir.c_str(), 1);
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (!ec) std::filesystem::remove_all(private_dir, ec);
  return result;
}

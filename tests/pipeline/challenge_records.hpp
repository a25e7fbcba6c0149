#pragma once
// Test helper: where the bundled Challenge records of the test data lie.
#include <filesystem>

namespace ecgssl::test_support {

inline std::filesystem::path challenge_records_dir() {
  return std::filesystem::path(ECGSSL_TEST_DATA_DIR) / "records" / "challenge";
}

}  // namespace ecgssl::test_support

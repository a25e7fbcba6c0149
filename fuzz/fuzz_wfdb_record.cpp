// libFuzzer target: a whole WFDB record decoded from memory (body in wfdb_harness.hpp).
#include "wfdb_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ecgssl::fuzzing::fuzz_wfdb_record_one(data, size);
}

// libFuzzer target: the WFDB header parser (body in wfdb_harness.hpp).
#include "wfdb_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ecgssl::fuzzing::fuzz_wfdb_header_one(data, size);
}

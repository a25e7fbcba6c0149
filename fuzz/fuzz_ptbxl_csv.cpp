// libFuzzer target: PTB-XL's metadata (io/ptbxl_database.hpp). The input is scp_statements.csv,
// a NUL byte, then ptbxl_database.csv. Any bytes must parse or throw ecgssl::io_error; a parsed
// database answers every question about every record (superclasses, Challenge codes, split)
// without throwing, with folds in 1-10 and ids sorted and unique. A failed check traps.
// Seed: the bundled files (fuzz/run.sh).
#include <ecgssl/io/ptbxl_database.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  if (nul == std::string::npos) return 0;
  ecgssl::io::ptbxl_database db;
  try {
    db = ecgssl::io::ptbxl_database::parse(input.substr(nul + 1), "ptbxl_database.csv", input.substr(0, nul), "scp_statements.csv");
  } catch (const ecgssl::io_error&) {
    return 0;
  }
  const auto& records = db.records();
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    if (r.strat_fold < 1 || r.strat_fold > 10) __builtin_trap();
    if (i > 0 && records[i - 1].ecg_id >= r.ecg_id) __builtin_trap();
    if (db.find(r.ecg_id) != &r) __builtin_trap();
    (void)db.superclass_labels(r);
    (void)ecgssl::io::ptbxl_database::challenge_codes(r);
    (void)ecgssl::io::ptbxl_database::split_of(r);
  }
  return 0;
}

// Reading throughput of the WFDB record reader on every shipped 12-lead record
// (tests/data/records: PTB-XL 00001_hr, LUDB 3, eight Challenge .mat records).
// Compare with tools/bench_wfdb_python.py, which reads the same files with wfdb.rdrecord.
#include <benchmark/benchmark.h>

#include <ecgssl/io/wfdb_record.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#ifndef ECGSSL_BENCH_RECORDS_DIR
#define ECGSSL_BENCH_RECORDS_DIR "tests/data/records"
#endif

namespace {

struct record_set {
  std::vector<std::string> paths;
  std::int64_t signal_bytes = 0;  // bytes of the signal files, per pass
};

const record_set& twelve_lead_records() {
  static const record_set set = [] {
    record_set s;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(ECGSSL_BENCH_RECORDS_DIR)) {
      if (entry.path().extension() != ".hea") continue;
      const auto h = ecgssl::io::read_wfdb_header(entry.path().string());
      if (h.is_multi_segment() || h.n_signals != 12) continue;
      s.paths.push_back(entry.path().string());
      s.signal_bytes += static_cast<std::int64_t>(
          std::filesystem::file_size(entry.path().parent_path() / h.signals[0].file_name));
    }
    std::sort(s.paths.begin(), s.paths.end());
    return s;
  }();
  return set;
}

void read_all(benchmark::State& state, bool physical) {
  const auto& set = twelve_lead_records();
  if (set.paths.empty()) {
    state.SkipWithError("no 12-lead records found under " ECGSSL_BENCH_RECORDS_DIR);
    return;
  }
  ecgssl::io::wfdb_record rec;
  ecgssl::io::wfdb_read_options options;
  options.compute_physical = physical;
  for (auto _ : state) {
    for (const auto& path : set.paths) {
      ecgssl::io::read_record(path, rec, options);
      benchmark::DoNotOptimize(rec.digital.data());
      benchmark::DoNotOptimize(rec.physical.data());
    }
  }
  const auto passes = static_cast<double>(state.iterations());
  state.counters["records/s"] = benchmark::Counter(passes * static_cast<double>(set.paths.size()), benchmark::Counter::kIsRate);
  state.counters["records"] = static_cast<double>(set.paths.size());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * set.signal_bytes);
}

void bm_read_record_physical(benchmark::State& state) { read_all(state, true); }
void bm_read_record_digital_only(benchmark::State& state) { read_all(state, false); }

}  // namespace

BENCHMARK(bm_read_record_physical)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_read_record_digital_only)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();

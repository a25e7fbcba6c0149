#include <ecgssl/pipeline/logs/csv_log.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
ecgssl::pipeline::step_record record(std::int64_t step) {
  ecgssl::pipeline::step_record r;
  r.step = step;
  r.loss = 1.5;
  r.learning_rate = 5e-5;
  r.segments_per_second = 10;
  r.elapsed_seconds = 0.5;
  r.terms = {{"w2v", 1.25}, {"cmsc", 0.25}};
  return r;
}
}  // namespace

TEST_CASE("the CSV log has a header from the first record and one row per update") {
  const auto path = (std::filesystem::temp_directory_path() / "ecgssl_test_log.csv").string();
  {
    ecgssl::pipeline::csv_log log(path);
    log.on_step(record(1));
    log.on_step(record(2));
  }
  CHECK(slurp(path) ==
        "step,loss,learning_rate,segments_per_second,elapsed_seconds,w2v,cmsc\n"
        "1,1.5,5e-05,10,0.5,1.25,0.25\n"
        "2,1.5,5e-05,10,0.5,1.25,0.25\n");
  {
    // Resuming appends rows without a second header.
    ecgssl::pipeline::csv_log log(path, /*append=*/true);
    log.on_step(record(3));
  }
  const auto text = slurp(path);
  CHECK(text.find("step,") == text.rfind("step,"));
  const std::string last_row = "3,1.5,5e-05,10,0.5,1.25,0.25\n";
  CHECK(text.substr(text.size() - last_row.size()) == last_row);
  std::filesystem::remove(path);
}

TEST_CASE("a record with different loss terms is an error, not a shifted column") {
  const auto path = (std::filesystem::temp_directory_path() / "ecgssl_test_log2.csv").string();
  ecgssl::pipeline::csv_log log(path);
  log.on_step(record(1));
  auto odd = record(2);
  odd.terms.pop_back();
  CHECK_THROWS_AS(log.on_step(odd), ecgssl::config_error);
  std::filesystem::remove(path);
}

TEST_CASE("an unwritable log path names the file") {
  CHECK_THROWS_WITH_AS(ecgssl::pipeline::csv_log("/nonexistent-dir/log.csv"),
                       doctest::Contains("/nonexistent-dir/log.csv"), ecgssl::io_error);
}

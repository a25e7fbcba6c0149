#include <ecgssl/pipeline/logs/jsonl_log.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

TEST_CASE("each JSON line parses back to the record it came from") {
  const auto path = (std::filesystem::temp_directory_path() / "ecgssl_test_log.jsonl").string();
  {
    ecgssl::pipeline::jsonl_log log(path);
    for (std::int64_t s = 1; s <= 3; ++s) {
      ecgssl::pipeline::step_record r;
      r.step = s;
      r.loss = 0.5 * static_cast<double>(s);
      r.learning_rate = 1e-4;
      r.terms = {{"w2v", 0.1}, {"cmsc", 0.2}};
      log.on_step(r);
    }
  }
  std::ifstream in(path);
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    ++count;
    CHECK(j["step"].get<int>() == count);
    CHECK(j["loss"].get<double>() == 0.5 * count);
    CHECK(j["terms"]["cmsc"].get<double>() == 0.2);
    CHECK(j["learning_rate"].get<double>() == 1e-4);
  }
  CHECK(count == 3);
  std::filesystem::remove(path);
}

TEST_CASE("writing to a full disk is reported") {
  // /dev/full accepts the open and fails every write with ENOSPC.
  if (!std::filesystem::exists("/dev/full")) return;
  ecgssl::pipeline::jsonl_log log("/dev/full");
  ecgssl::pipeline::step_record r;
  r.step = 1;
  CHECK_THROWS_WITH_AS(log.on_step(r), doctest::Contains("/dev/full"), ecgssl::io_error);
}

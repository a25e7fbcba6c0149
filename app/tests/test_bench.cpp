// Tests of app/bench.hpp through run_bench.
#include "commands.hpp"
#include <ecgssl/pipeline/pretraining/benchmark.hpp>
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>


TEST_CASE("bench: the analytic FLOP count of an encoder forward") {
  // Counted by hand (tools-free): tiny = 4 convs (12->128, then 128->128, k = s = 2) over
  // 1250, 625, 312, 156 frames, pos conv 128x8x128 taps, 2 layers of 4 D^2 projections,
  // T^2 D scores + mixing and 2 D F FFN matrices, 2 FLOPs per multiply-add.
  const double tiny = 2.0 * 2 * (1250.0 * 128 * 12 + 625.0 * 128 * 128 + 312.0 * 128 * 128 + 156.0 * 128 * 128) +
                      2.0 * 156 * 128 * 8 * 128 +
                      2 * (2.0 * 156 * 4 * 128 * 128 + 4.0 * 156 * 156 * 128 + 4.0 * 156 * 128 * 512);
  CHECK(tiny == 267808768.0);
  CHECK(ecgssl::pipeline::encoder_forward_flops(ecgssl::model::tiny_config<float>::options(), 2500) == tiny);
  // base: about 29.2 GFLOP per 5 s segment
  CHECK(ecgssl::pipeline::encoder_forward_flops(ecgssl::model::base_config<float>::options(), 2500) == 29232160768.0);
}

TEST_CASE("bench --json times training and inference of the tiny model") {
  std::ostringstream out, err;
  const int code = ecgssl::cli::run_bench({"--config", "tiny", "--batch-pairs", "1", "--steps", "1", "--threads", "1", "--json"},
                                          out, err);
  INFO(err.str());
  REQUIRE(code == 0);
  const auto j = nlohmann::json::parse(out.str());
  for (const char* key : {"train_s_per_step", "train_segments_per_s", "infer_ms_per_segment_b1",
                          "infer_ms_per_segment_b32", "peak_rss_mib"}) {
    CAPTURE(key);
    REQUIRE(j.contains(key));
    CHECK(j[key].get<double>() > 0.0);
  }
  CHECK(j["train_segments_per_s"].get<double>() == doctest::Approx(2.0 / j["train_s_per_step"].get<double>()));
}

TEST_CASE("bench: a bad configuration is a usage or configuration error") {
  std::ostringstream out, err;
  CHECK(ecgssl::cli::run_bench({"--config", "huge"}, out, err) == 1);
  CHECK(err.str().find("huge") != std::string::npos);
  CHECK(err.str().find("tiny, small, base") != std::string::npos);
  CHECK(ecgssl::cli::run_bench({"--steps", "0"}, out, err) == 2);
}

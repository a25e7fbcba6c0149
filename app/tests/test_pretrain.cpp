// Tests of app/pretrain.hpp through run_pretrain, on the real records of tests/data/records.
#include "commands.hpp"
#include <doctest/doctest.h>

#include <ecgssl/io/checkpoint.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>


namespace {

const std::string records = std::string(ECGSSL_TEST_DATA_DIR) + "/records/challenge";

std::filesystem::path scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "ecgssl_test_cli_pretrain";
  std::filesystem::create_directories(dir);
  return dir / name;
}

struct result {
  int code;
  std::string out, err;
};

result pretrain(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = ecgssl::cli::run_pretrain(args, out, err);
  return {code, out.str(), err.str()};
}

std::size_t line_count(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

}  // namespace

TEST_CASE("pretrain w2v_cmsc_rlm on real records writes a checkpoint, logs and a summary; resume continues") {
  const auto ck = scratch("tiny.safetensors"), csv = scratch("log.csv"), jsonl = scratch("log.jsonl"), svg = scratch("loss.svg");
  for (const auto& p : {ck, csv, jsonl, svg}) std::filesystem::remove(p);
  const auto r = pretrain({"--data", records, "--config", "tiny", "--method", "w2v_cmsc_rlm", "--steps", "2",
                           "--batch-pairs", "1", "--seed", "3", "--out", ck.string(), "--threads", "1",
                           "--log-csv", csv.string(), "--log-jsonl", jsonl.string(), "--plot-svg", svg.string()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("2/2") != std::string::npos);  // progress bar's last line
  CHECK(r.out.find("893440 parameters") != std::string::npos);  // tiny at pre-training (spec §11)
  CHECK(r.out.find("2 updates this run (2 in all)") != std::string::npos);
  CHECK(std::filesystem::exists(ck));
  CHECK(line_count(csv) == 3);
  CHECK(line_count(jsonl) == 2);
  CHECK(std::filesystem::file_size(svg) > 100);

  const auto resumed = pretrain({"--data", records, "--config", "tiny", "--steps", "3", "--batch-pairs", "1",
                                 "--seed", "3", "--out", ck.string(), "--resume", ck.string(), "--threads", "1",
                                 "--log-csv", csv.string()});
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(resumed.out.find("resumed from") != std::string::npos);
  CHECK(resumed.out.find("1 updates this run (3 in all)") != std::string::npos);
  CHECK(line_count(csv) == 4);  // appended

  const auto other = pretrain({"--data", records, "--config", "small", "--steps", "4", "--batch-pairs", "1",
                               "--seed", "3", "--out", scratch("other.safetensors").string(), "--resume", ck.string()});
  CHECK(other.code == 1);
  CHECK(other.err.find("ecgssl.config") != std::string::npos);
  CHECK(other.err.find("checkpoint has encoder") != std::string::npos);
}

TEST_CASE("pretrain: the baseline methods each run an update") {
  for (const char* method : {"w2v", "cmsc_rlm", "simclr_rlm", "w2v_cmsc_physio", "3kg"}) {
    CAPTURE(method);
    const auto r = pretrain({"--data", records, "--method", method, "--steps", "1", "--batch-pairs", "2",
                             "--out", scratch(std::string(method) + ".safetensors").string(), "--threads", "1"});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(r.out.find("1 updates this run") != std::string::npos);
  }
}

TEST_CASE("pretrain: bad input gives one clear line and no checkpoint") {
  const auto empty = scratch("empty");
  std::filesystem::create_directories(empty);
  const auto ck = scratch("never.safetensors");
  std::filesystem::remove(ck);
  auto r = pretrain({"--data", empty.string(), "--steps", "1", "--out", ck.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("no WFDB header") != std::string::npos);
  r = pretrain({"--data", records, "--method", "byol", "--steps", "1", "--out", ck.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("unknown method 'byol'") != std::string::npos);
  r = pretrain({"--data", records, "--config", scratch("missing.json").string(), "--out", ck.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("missing.json") != std::string::npos);
  r = pretrain({"--data", records, "--steps", "1"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--out") != std::string::npos);
  r = pretrain({"--data", records, "--steps", "1", "--out", (scratch("no_dir") / "a" / "b.safetensors").string(),
                "--threads", "1"});
  CHECK(r.code == 1);
  CHECK(!r.err.empty());
  CHECK(!std::filesystem::exists(ck));
}

// Issue 22: the preprocessing is a recorded choice that every later use of the checkpoint applies.
TEST_CASE("pretrain --preprocess bandpass,zscore is recorded, and later commands apply it or refuse another") {
  const auto ck = scratch("zscore.safetensors");
  std::filesystem::remove(ck);
  const auto r = pretrain({"--data", records, "--config", "tiny", "--steps", "1", "--batch-pairs", "1", "--seed", "2",
                           "--preprocess", "bandpass,zscore", "--out", ck.string(), "--threads", "1"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto config = ecgssl::io::checkpoint::load(ck).config();
  REQUIRE(config.has_value());
  CHECK(nlohmann::json::parse(*config).at("preprocess") == "bandpass,zscore");

  // resuming with another preprocessing is refused, naming the key
  const auto resumed = pretrain({"--data", records, "--config", "tiny", "--steps", "2", "--batch-pairs", "1", "--seed", "2",
                                 "--out", scratch("zscore2.safetensors").string(), "--resume", ck.string()});
  CHECK(resumed.code == 1);
  CHECK(resumed.err.find("preprocess") != std::string::npos);

  std::ostringstream out, err;
  const std::string one = records + "/A0001";
  // embed applies it without being told, and refuses a different request or a stream
  CHECK(ecgssl::cli::run_embed({"--checkpoint", ck.string(), "--out", scratch("z.csv").string(), one}, out, err) == 0);
  std::ostringstream out2, err2;
  CHECK(ecgssl::cli::run_embed({"--checkpoint", ck.string(), "--out", scratch("z2.csv").string(), "--preprocess", "none", one}, out2, err2) == 1);
  CHECK(err2.str().find("trained on 'bandpass,zscore' data") != std::string::npos);
  std::ostringstream out3, err3;
  CHECK(ecgssl::cli::run_embed({"--checkpoint", ck.string(), "--out", scratch("z3.csv").string(), "--stream",
                                std::string(ECGSSL_TEST_DATA_DIR) + "/records/ptbxl/00001_hr"}, out3, err3) == 1);
  CHECK(err3.str().find("--stream") != std::string::npos);
  // fine-tuning from it with millivolts is refused before any work
  std::ostringstream out4, err4;
  CHECK(ecgssl::cli::run_finetune({"--checkpoint", ck.string(), "--data", records, "--preprocess", "none", "--epochs", "1",
                                   "--out", scratch("ft.safetensors").string()}, out4, err4) == 1);
  CHECK(err4.str().find("--preprocess") != std::string::npos);
  CHECK(!std::filesystem::exists(scratch("ft.safetensors")));
}

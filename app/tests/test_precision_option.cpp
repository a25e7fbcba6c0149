// --precision fp32|bf16 on the command (core/precision.hpp): refused words name the option before
// any file is read, every training and inference subcommand runs in bf16, and the checkpoints
// record the training precision.
#include "commands.hpp"
#include "finetuned_fixture.hpp"
#include <ecgssl/io/checkpoint.hpp>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct outcome {
  int code;
  std::string out, err;
};

template <class Run>
outcome run(Run&& command, const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = command(args, out, err);
  return {code, out.str(), err.str()};
}

std::filesystem::path scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "ecgssl_test_cli_precision";
  std::filesystem::create_directories(dir);
  return dir / name;
}

std::string recorded_precision(const std::filesystem::path& checkpoint) {
  const auto config = ecgssl::io::checkpoint::load(checkpoint).config();
  REQUIRE(config.has_value());
  return nlohmann::json::parse(*config).value("precision", std::string("(none)"));
}

}  // namespace

TEST_CASE("--precision: a word other than fp32 or bf16 is refused by every subcommand, naming the option") {
  // The paths do not exist: the option is checked first.
  const std::vector<std::pair<const char*, outcome>> results{
      {"pretrain", run(ecgssl::cli::run_pretrain, {"--data", "no/such", "--out", "no/such.safetensors", "--precision", "fp16"})},
      {"finetune", run(ecgssl::cli::run_finetune, {"--data", "no/such", "--checkpoint", "no/such.safetensors", "--out",
                                                   "no/such", "--precision", "fp16"})},
      {"evaluate", run(ecgssl::cli::run_evaluate, {"--data", "no/such", "--checkpoint", "no/such.safetensors", "--precision", "fp16"})},
      {"embed", run(ecgssl::cli::run_embed, {"--checkpoint", "no/such.safetensors", "--out", "no/such.csv", "no/such/r",
                                             "--precision", "fp16"})},
      {"predict", run(ecgssl::cli::run_predict, {"--checkpoint", "no/such.safetensors", "--out", scratch("p").string(),
                                                 "no/such/r", "--precision", "fp16"})},
      {"bench", run(ecgssl::cli::run_bench, {"--config", "tiny", "--precision", "fp16"})},
  };
  for (const auto& [name, r] : results) {
    CAPTURE(name);
    CAPTURE(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find("--precision") != std::string::npos);
    CHECK(r.err.find("fp32 or bf16") != std::string::npos);
  }
}

TEST_CASE("pretrain, finetune, evaluate, embed and predict run in bf16; checkpoints record the precision") {
  const auto& f = ecgssl::test_support::finetuned();
  const std::string records = std::string(ECGSSL_TEST_DATA_DIR) + "/records/challenge";
  const auto pre = scratch("bf16.safetensors");
  std::filesystem::remove(pre);
  auto r = run(ecgssl::cli::run_pretrain, {"--data", records, "--config", f.config.string(), "--steps", "2", "--batch-pairs",
                                           "1", "--out", pre.string(), "--threads", "1", "--precision", "bf16"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(recorded_precision(pre) == "bf16");
  // Resuming in another precision is refused, naming the key.
  r = run(ecgssl::cli::run_pretrain, {"--data", records, "--config", f.config.string(), "--steps", "3", "--batch-pairs", "1",
                                      "--out", scratch("bf16b.safetensors").string(), "--resume", pre.string(), "--threads", "1"});
  CHECK(r.code == 1);
  CHECK(r.err.find("precision") != std::string::npos);

  const auto tuned = scratch("tuned.safetensors");
  std::filesystem::remove(tuned);
  r = run(ecgssl::cli::run_finetune, {"--task", "arrhythmia", "--checkpoint", pre.string(), "--data", f.data.string(),
                                      "--epochs", "1", "--batch-size", "8", "--valid-fraction", "0.2", "--out", tuned.string(),
                                      "--precision", "bf16"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(recorded_precision(tuned) == "bf16");
  CHECK(recorded_precision(f.model) == "fp32");

  r = run(ecgssl::cli::run_evaluate, {"--data", f.data.string(), "--checkpoint", tuned.string(), "--leads", "12",
                                      "--bootstrap", "0", "--precision", "bf16"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  const auto embedded = scratch("e.csv");
  std::filesystem::remove(embedded);
  r = run(ecgssl::cli::run_embed, {"--checkpoint", pre.string(), "--out", embedded.string(),
                                   (f.data / f.records[0]).string(), "--precision", "bf16"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(std::filesystem::file_size(embedded) > 0);
  const auto outputs = scratch("predictions");
  std::filesystem::remove_all(outputs);
  r = run(ecgssl::cli::run_predict, {"--checkpoint", tuned.string(), "--out", outputs.string(),
                                     (f.data / f.records[0]).string(), "--precision", "bf16"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(std::filesystem::exists(outputs / (f.records[0] + ".csv")));
}

TEST_CASE("bench --precision bf16 --json reports the precision and the kernels") {
  const auto r = run(ecgssl::cli::run_bench, {"--config", "tiny", "--batch-pairs", "1", "--steps", "1", "--threads", "1",
                                              "--precision", "bf16", "--json"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("precision") == "bf16");
  CHECK(!j.at("isa").get<std::string>().empty());
  CHECK(j.at("bf16_products").get<std::string>().find("bf16") != std::string::npos);
  CHECK(j.at("train_s_per_step").get<double>() > 0);
}

// Issue 19, "options": every option is checked when it is parsed, before any file is read (the
// data paths below do not exist), with a message that quotes the value and says what was
// expected: no silent wrap of -1 to 2^64-1, no NaN learning rate reaching the optimizer.
#include "commands.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct outcome {
  int code;
  std::string err;  ///< the first line only: the message (the usage text that follows names every option)
};

outcome run(int (*command)(const ecgssl::cli::arguments&, std::ostream&, std::ostream&), std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = command(args, out, err);
  const std::string text = err.str();
  return {code, text.substr(0, text.find('\n'))};
}

const std::vector<std::string> pretrain_base{"--data", "no/such/folder", "--out", "no/such/out.safetensors"};
const std::vector<std::string> finetune_base{"--data", "no/such/folder", "--random-init", "--out", "no/such/out"};

std::vector<std::string> with(std::vector<std::string> base, const std::vector<std::string>& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

}  // namespace

TEST_CASE("pretrain refuses hostile option values at parse time (usage error, value quoted)") {
  const std::vector<std::vector<std::string>> bad{
      {"--seed", "-1"},          {"--seed", "1e3"},          {"--seed", "18446744073709551616x"},
      {"--lr", "nan"},           {"--lr", "inf"},            {"--lr", "-1e-4"},
      {"--lr", "0"},             {"--checkpoint-every", "-5"}, {"--loader-threads", "-1"},
      {"--steps", "0"},          {"--batch-pairs", "0"},     {"--update-freq", "-2"},
  };
  for (const auto& option : bad) {
    INFO(option[0] << " " << option[1]);
    const auto r = run(ecgssl::cli::run_pretrain, with(pretrain_base, option));
    CHECK(r.code == 2);
    CHECK(r.err.find(option[0]) != std::string::npos);
    CHECK(r.err.find("no/such/folder") == std::string::npos);  // refused before the data is looked at
  }
  // The largest seed is fine (parsing passes; the missing data folder is what fails).
  // (--out in a folder that exists: outputs are checked before the data.)
  const auto out_path = (std::filesystem::temp_directory_path() / "ecgssl_test_options.safetensors").string();
  const auto ok = run(ecgssl::cli::run_pretrain,
                      {"--data", "no/such/folder", "--out", out_path, "--seed", "18446744073709551615"});
  CHECK(ok.code == 1);
  CHECK(ok.err.find("no/such/folder") != std::string::npos);
}

TEST_CASE("finetune refuses hostile option values at parse time") {
  const std::vector<std::vector<std::string>> bad{
      {"--seed", "-1"}, {"--lr", "nan"}, {"--lr", "-0.1"}, {"--valid-fraction", "2"}, {"--valid-fraction", "nan"},
      {"--epochs", "0"},
  };
  for (const auto& option : bad) {
    INFO(option[0] << " " << option[1]);
    const auto r = run(ecgssl::cli::run_finetune, with(finetune_base, option));
    CHECK(r.code == 2);
    CHECK(r.err.find(option[0]) != std::string::npos);
  }
}

TEST_CASE("manifest refuses a non-finite or non-positive frequency and a negative length") {
  for (const auto& option : std::vector<std::vector<std::string>>{{"--fs", "nan"}, {"--fs", "0"}, {"--fs", "1e999"},
                                                                   {"--min-seconds", "-1"}, {"--min-seconds", "inf"}}) {
    INFO(option[0] << " " << option[1]);
    const auto r = run(ecgssl::cli::run_manifest, with({"no/such/folder", "--out", "no/such.csv"}, option));
    CHECK(r.code == 2);
    CHECK(r.err.find(option[0]) != std::string::npos);
  }
}

TEST_CASE("a batch larger than the machine is refused before the data is read") {
  std::ostringstream out, err;
  // --data does not exist: the refusal must come first, naming the batch option.
  CHECK(ecgssl::cli::run_pretrain({"--data", "/nonexistent/ecgssl", "--config", "base", "--batch-pairs", "1000000", "--out",
                                   "/tmp/ecgssl_never.safetensors"}, out, err) != 0);
  CHECK_MESSAGE(err.str().find("field '--batch-pairs'") != std::string::npos, err.str());
  CHECK_MESSAGE(err.str().find("MiB") != std::string::npos, err.str());
  std::ostringstream out2, err2;
  CHECK(ecgssl::cli::run_finetune({"--random-init", "--config", "base", "--data", "/nonexistent/ecgssl", "--batch-size",
                                   "100000000", "--out", "/tmp/ecgssl_never.safetensors"}, out2, err2) != 0);
  CHECK_MESSAGE(err2.str().find("field '--batch-size'") != std::string::npos, err2.str());
}

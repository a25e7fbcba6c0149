// --device on the subcommands: an ecgssl built without CUDA refuses cuda with a config_error
// saying so, checked before any file is read (the paths below do not exist).
#include "commands.hpp"
#include "detail/device_option.hpp"
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>


namespace {

struct outcome {
  int code;
  std::string out;
  std::string err;
};

template <class Run>
outcome run(Run&& command, const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = command(args, out, err);
  return {code, out.str(), err.str()};
}

const std::vector<std::pair<std::string, std::vector<std::string>>>& commands() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> all{
      {"pretrain", {"--data", "no/such/folder", "--out", "no/such/out.safetensors"}},
      {"finetune", {"--data", "no/such/folder", "--checkpoint", "no/such.safetensors", "--out", "no/such/out"}},
      {"evaluate", {"--data", "no/such/folder", "--checkpoint", "no/such.safetensors"}},
      {"embed", {"--checkpoint", "no/such.safetensors", "--out", "no/such.csv", "no/such/record"}},
  };
  return all;
}

outcome run_named(const std::string& name, std::vector<std::string> args) {
  if (name == "pretrain") return run(ecgssl::cli::run_pretrain, args);
  if (name == "finetune") return run(ecgssl::cli::run_finetune, args);
  if (name == "evaluate") return run(ecgssl::cli::run_evaluate, args);
  return run(ecgssl::cli::run_embed, args);
}

}  // namespace

TEST_CASE("--device cuda in a binary built without CUDA is a config error naming --device") {
  if constexpr (ecgssl::cli::detail::cli_built_with_cuda) {
    // This build has the GPU pipelines (app/cuda_pipelines.cu): the word is accepted, and what
    // happens next depends on a device (tests/cuda and tools/gpu_cli_check.sh cover that). The
    // refusal below is checked by the builds without CUDA (the sanitize preset).
    CHECK(ecgssl::cli::detail::parse_device("cuda") == ecgssl::cli::detail::compute_device::cuda);
  } else {
    for (const auto& [name, base] : commands()) {
      INFO(name);
      auto args = base;
      args.insert(args.end(), {"--device", "cuda"});
      const auto r = run_named(name, args);
      CHECK(r.code == 1);
      CHECK(r.err.find("--device") != std::string::npos);
      CHECK(r.err.find("built without CUDA") != std::string::npos);
      CHECK(r.err.find("--device host") != std::string::npos);  // what to do instead
    }
  }
}

TEST_CASE("--device with an unknown word lists host and cuda") {
  for (const auto& [name, base] : commands()) {
    INFO(name);
    auto args = base;
    args.insert(args.end(), {"--device", "gpu0"});
    const auto r = run_named(name, args);
    CHECK(r.code == 1);
    CHECK(r.err.find("'gpu0'") != std::string::npos);
    CHECK(r.err.find("host or cuda") != std::string::npos);
  }
}

TEST_CASE("--device host is accepted and the command goes on to read its input") {
  using ecgssl::cli::detail::compute_device;
  CHECK(ecgssl::cli::detail::parse_device("host") == compute_device::host);
  // With host selected, pretrain fails later, on the missing data folder, not on --device.
  // (--out is in a folder that exists: outputs are checked before the data.)
  const auto out_path = std::filesystem::temp_directory_path() / "ecgssl_test_device_option.safetensors";
  const auto r = run_named("pretrain", {"--data", "no/such/folder", "--out", out_path.string(), "--device", "host"});
  CHECK(r.code == 1);
  CHECK(r.err.find("--device") == std::string::npos);
  CHECK(r.err.find("no/such/folder") != std::string::npos);
  // The help lists the option.
  const auto help = run_named("embed", {"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("--device") != std::string::npos);
}

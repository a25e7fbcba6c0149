#pragma once
// Test helper for the fine-tuning commands: a folder of real records (a copy of part of
// examples/data/cinc), a micro encoder configuration, and one arrhythmia model fine-tuned on them
// through `ecgssl finetune --random-init` (built once per test program).

#include "commands.hpp"
#include <ecgssl/io/checkpoint.hpp>
#include <ecgssl/io/lead_set.hpp>
#include <ecgssl/model/encoder_config.hpp>
#include <ecgssl/pipeline/finetuning/evaluation.hpp>
#include <ecgssl/pipeline/finetuning/finetune_checkpoint.hpp>
#include <nlohmann/json.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ecgssl::test_support {

struct finetuned_fixture {
  std::filesystem::path dir, data, config, model;
  std::vector<std::string> records;
  std::string log;
};

inline const finetuned_fixture& finetuned() {
  static const finetuned_fixture f = [] {
    finetuned_fixture x;
    x.dir = std::filesystem::temp_directory_path() / "ecgssl_test_cli_finetune";
    std::filesystem::remove_all(x.dir);
    x.data = x.dir / "data";
    std::filesystem::create_directories(x.data);
    const auto src = std::filesystem::path(ECGSSL_SOURCE_DIR) / "examples/data/cinc";
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(src)) {
      if (e.path().extension() == ".hea") names.push_back(e.path().stem().string());
    }
    std::sort(names.begin(), names.end());
    names.resize(12);
    for (const auto& name : names) {
      x.records.push_back(name);
      for (const char* ext : {".hea", ".mat"}) std::filesystem::copy_file(src / (name + ext), x.data / (name + ext));
    }
    x.config = x.dir / "micro.json";
    std::ofstream(x.config) << R"({"base": "tiny", "conv_dim": 16, "embed_dim": 16, "layers": 1, "heads": 2,
                                   "ffn_dim": 32, "pos_kernel": 16, "pos_groups": 4})";
    x.model = x.dir / "finetuned.safetensors";
    std::ostringstream out, err;
    const int rc = cli::run_finetune({"--task", "arrhythmia", "--random-init", "--config", x.config.string(), "--data",
                                      x.data.string(), "--leads", "12", "--epochs", "2", "--batch-size", "8", "--lr",
                                      "1e-3", "--valid-fraction", "0.2", "--seed", "3", "--out", x.model.string()},
                                     out, err);
    x.log = out.str() + err.str();
    REQUIRE_MESSAGE(rc == 0, x.log);
    return x;
  }();
  return f;
}

}  // namespace ecgssl::test_support

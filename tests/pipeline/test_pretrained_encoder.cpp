// Tests of pipeline/embedding/pretrained_encoder.hpp: a checkpoint written from a PyTorch module with the
// fairseq-signals names (tools/make_torch_checkpoint_fixture.py) loads strictly and gives
// PyTorch's embedding (issue 6, spec §6.1).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "ecgssl/core/threading.hpp"
#include "ecgssl/loss/detail/nonzero_mean_pool.hpp"
#include "ecgssl/pipeline/finetuning/finetune_model.hpp"
#include "ecgssl/pipeline/embedding/pretrained_encoder.hpp"
#include "support/npy.hpp"

using namespace ecgssl;

namespace {

const std::filesystem::path torch_dir = std::filesystem::path(ECGSSL_TEST_DATA_DIR) / "io" / "torch_checkpoint";

}  // namespace

TEST_CASE("pretrained_encoder: a PyTorch-written checkpoint gives PyTorch's eval-mode embedding") {
  set_threads(1);
  const auto input = testing::read_npy((torch_dir / "input.npy").string());
  const auto expected = testing::read_npy((torch_dir / "embedding.npy").string());
  REQUIRE(input.shape == std::vector<std::size_t>{2, 12, 2500});
  REQUIRE(expected.shape == std::vector<std::size_t>{2, 32});

  // the configuration comes from the checkpoint's ecgssl.config (32-wide, not the tiny default)
  pipeline::pretrained_encoder<> model(torch_dir / "encoder.safetensors");
  CHECK(model.encoder().options().embed_dim == 32);
  CHECK(model.encoder().options().conv_dim == 32);
  auto x = tensor<float, 3>::from_shape({2, 12, 2500});
  for (std::size_t i = 0; i < input.size(); ++i) x.data()[i] = static_cast<float>(input.values[i]);
  const auto& out = model.encoder().forward(x);
  tensor<float, 2> pooled, counts;
  loss_detail::nonzero_mean_pool(out.encoded, pooled, counts);
  REQUIRE(pooled.shape()[0] == 2);
  REQUIRE(pooled.shape()[1] == 32);
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, std::abs(double(pooled.data()[i]) - expected.values[i]));
    scale = std::max(scale, std::abs(expected.values[i]));
  }
  MESSAGE("max |ecgssl float32 - PyTorch float64| = " << worst << " (largest |value| " << scale << ")");
  CHECK(scale > 0.1);
  CHECK(worst < 1e-5 * scale);
}

TEST_CASE("pretrained_encoder: the PyTorch checkpoint against another configuration lists the mismatches") {
  CHECK_THROWS_WITH_AS(pipeline::pretrained_encoder<>(torch_dir / "encoder.safetensors", std::string("tiny")),
                       doctest::Contains("layer_norm.weight"), io_error);
}

TEST_CASE("pretrained_encoder: fine-tuning loads the same encoder through the same path") {
  const auto path = torch_dir / "encoder.safetensors";
  const auto ck = io::checkpoint::load(path);
  pipeline::finetune_model_options mo;
  mo.encoder = pipeline::finetuning_encoder_options(pipeline::pretrained_encoder_options(ck, path), true);
  pipeline::finetune_model<float> tuned(mo, 5);
  const auto report = tuned.load_pretrained(ck);
  // skipped: the pre-training heads; missing: only the fresh task head
  CHECK(report.skipped.size() == 8);  // quantizer.{vars, weight_proj.weight, weight_proj.bias}, project_q.*2, final_proj.*2, mask_emb
  for (const auto& name : report.skipped) {
    bool head = false;
    for (const auto& prefix : pipeline::pretraining_head_prefixes()) head = head || name.rfind(prefix, 0) == 0;
    CHECK_MESSAGE(head, name);
  }
  for (const auto& name : report.missing) CHECK(name.rfind("head.", 0) == 0);
  pipeline::pretrained_encoder<> embedder(path);
  std::size_t compared = 0;
  for (const auto& e : embedder.parameters().entries()) {
    const auto* f = tuned.store().find(e.name);
    REQUIRE_MESSAGE(f != nullptr, e.name);
    const auto a = embedder.parameters().values().subspan(e.offset, e.size);
    const auto b = tuned.store().values().subspan(f->offset, f->size);
    CHECK_MESSAGE(std::equal(a.begin(), a.end(), b.begin(), b.end()), e.name);
    ++compared;
  }
  CHECK(compared == 45);  // 53 tensors in the file less the 8 pre-training ones
}

TEST_CASE("pretrained_encoder: a checkpoint without a configuration needs one given") {
  io::checkpoint bare = io::checkpoint::load(torch_dir / "encoder.safetensors");
  bare.set_config("{}");
  CHECK_THROWS_WITH_AS(pipeline::pretrained_encoder_options(bare, "x.safetensors"), doctest::Contains("no model configuration"),
                       config_error);
  bare.set_config("[1, 2]");
  CHECK_THROWS_AS(pipeline::pretrained_encoder_options(bare, "x.safetensors"), config_error);
  CHECK(pipeline::pretrained_encoder_options(bare, "x.safetensors", std::string("small")).embed_dim == 256);
}

TEST_CASE("pretrained_encoder: the PyTorch checkpoint described by the contract's keys embeds as PyTorch does") {
  set_threads(1);
  // The configuration a PyTorch user writes by the contract of docs/checkpoints.md, typed from
  // tools/make_torch_checkpoint_fixture.py's OVERRIDES (the rest of tiny is the base defaults).
  io::checkpoint ck = io::checkpoint::load(torch_dir / "encoder.safetensors");
  ck.set_config(R"({"conv_channels": 32, "dim": 32, "layers": 2, "heads": 4, "ffn": 64, "extractor_mode": "default",
                    "final_dim": 16, "latent_vars": 8, "latent_groups": 2})");
  const auto path = std::filesystem::temp_directory_path() / "ecgssl_contract_encoder.safetensors";
  ck.save(path);
  pipeline::pretrained_encoder<> model(path);
  std::filesystem::remove(path);
  const auto input = testing::read_npy((torch_dir / "input.npy").string());
  const auto expected = testing::read_npy((torch_dir / "embedding.npy").string());
  auto x = tensor<float, 3>::from_shape({2, 12, 2500});
  for (std::size_t i = 0; i < input.size(); ++i) x.data()[i] = static_cast<float>(input.values[i]);
  tensor<float, 2> pooled, counts;
  loss_detail::nonzero_mean_pool(model.encoder().forward(x).encoded, pooled, counts);
  double worst = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) worst = std::max(worst, std::abs(double(pooled.data()[i]) - expected.values[i]));
  MESSAGE("contract form: max |ecgssl float32 - PyTorch float64| = " << worst);
  CHECK(worst < 1e-5);
}

// Tests of pipeline/pretrained_encoder.hpp: a checkpoint written from a PyTorch module with the
// fairseq-signals names (tools/make_torch_checkpoint_fixture.py) loads strictly and gives
// PyTorch's embedding (issue 6, spec §6.1).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "ecgssl/core/threading.hpp"
#include "ecgssl/loss/detail/nonzero_mean_pool.hpp"
#include "ecgssl/pipeline/pretrained_encoder.hpp"
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

// Issue 8: the pre-training criteria on the pooled transformer output (CMSC, SimCLR, 3KG; spec
// §4.5) on the GPU against the host. The host criteria, losses and trainer are the reference
// (proven by finite differences and PyTorch fixtures in tests/loss and tests/pipeline); the cuda
// losses are proven against their host twins in test_gpu_losses.cu / test_gpu_id_losses.cu.
// Both backends draw the same dropout masks (Philox, keyed alike) and see the same host-built
// batches, so the runs differ only by summation order. SimCLR on cuda pools and runs NT-Xent with
// adjacent pairs instead of cmsc_loss's nt_xent_2n form over [A; B] (which has no cuda version):
// the same loss, so any difference beyond rounding here is a pairing error. Double precision.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/attention_kernels.cuh>
#include <ecgssl/cuda/cmsc_loss.cuh>
#include <ecgssl/cuda/conv1d_kernels.cuh>
#include <ecgssl/cuda/device_parameters.cuh>
#include <ecgssl/cuda/device_tensor.cuh>
#include <ecgssl/cuda/diversity_loss.cuh>
#include <ecgssl/cuda/elementwise_kernels.cuh>
#include <ecgssl/cuda/feature_penalty.cuh>
#include <ecgssl/cuda/gumbel_quantizer_kernels.cuh>
#include <ecgssl/cuda/layout_kernels.cuh>
#include <ecgssl/cuda/linear_kernels.cuh>
#include <ecgssl/cuda/nonzero_mean_pool.cuh>
#include <ecgssl/cuda/norm_kernels.cuh>
#include <ecgssl/cuda/nt_xent.cuh>
#include <ecgssl/cuda/pos_conv_kernels.cuh>
#include <ecgssl/cuda/span_mask_kernels.cuh>
#include <ecgssl/cuda/training_backend.cuh>
#include <ecgssl/cuda/wav2vec2_contrastive.cuh>
#include <ecgssl/data/batch_loader.hpp>
#include <ecgssl/pipeline/pretraining/pretrain_method.hpp>
#include <ecgssl/pipeline/pretraining/pretrainer.hpp>
#include <ecgssl/data/two_view_source.hpp>

#include "gpu_pretrain_support.hpp"
#include "gpu_test_support.hpp"

namespace {

using gpu_pretrain::config;
using gpu_pretrain::small_options;
using gpu_pretrain::synthetic_segments;

template <class B>
using cmsc_objective = ecgssl::pipeline::cmsc_objective<config<double, B>>;
template <class B>
using simclr_rlm_objective = ecgssl::pipeline::simclr_rlm_objective<config<double, B>>;
template <class B>
using three_kg_objective = ecgssl::pipeline::three_kg_objective<config<double, B>>;

// Items of two consecutive segments; two items per identity (so CMSC and 3KG see positives
// beyond an item's own pair).
synthetic_segments pair_source() { return synthetic_segments{.items = 6, .segments_per_item = 2, .items_per_identity = 2}; }
synthetic_segments single_source() { return synthetic_segments{.items = 6, .segments_per_item = 1, .items_per_identity = 2}; }

// A micro-batch as the loader lays it out: the two parts of each item side by side. Two views
// (`views`) are the item's segment and a copy with small noise (an augmentation stand-in).
ecgssl::data::batch make_batch(const std::vector<std::size_t>& items, bool views) {
  const synthetic_segments source = views ? single_source() : pair_source();
  ecgssl::data::batch b;
  b.signals.resize({2 * items.size(), 12, source.samples});
  ecgssl::tensor<float, 2> x;
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (std::size_t part = 0; part < 2; ++part) {
      ecgssl::data::segment_meta meta;
      source.read(items[i], views ? 0 : part, x, meta);
      const std::size_t row = 2 * i + part;
      const ecgssl::random_stream noise(31, row);
      for (std::size_t k = 0; k < x.size(); ++k) {
        const double extra = views && part == 1 ? 0.05 * noise.normal(k) : 0.0;
        b.signals.data()[row * x.size() + k] = static_cast<float>(x.data()[k] + extra);
      }
      b.meta.push_back(meta);
      b.items.push_back(items[i]);
      b.kept_leads.push_back(0xFFFu);
    }
  }
  return b;
}

// Two micro-batches through `Objective`'s criterion on backend B from the same initial
// parameters: the losses, and the gradients accumulated into `store` (downloaded on cuda).
template <template <class> class Objective, class B>
std::vector<double> criterion_run(ecgssl::parameter_store<double>& store, const std::vector<ecgssl::data::batch>& batches) {
  Objective<B> objective(small_options());
  auto& encoder = objective.encoder();
  encoder.declare_parameters(store);
  store.allocate();
  encoder.initialize(ecgssl::random_stream(5, 1));
  std::vector<double> losses;
  const auto run_all = [&] {
    for (std::size_t k = 0; k < batches.size(); ++k) {
      const auto r = objective.accumulate(batches[k], 9, 3 + k, 100);
      REQUIRE(r.terms.size() == 1);
      CHECK(r.sample_size == 1.0);
      losses.push_back(r.loss_sum);
    }
  };
  store.zero_grad();
  if constexpr (std::is_same_v<B, ecgssl::host>) {
    run_all();
  } else {
    ecgssl::device_parameters<double> mirror(store);
    run_all();
    mirror.download_grads(store);
  }
  return losses;
}

template <template <class> class Objective>
void check_criterion(bool views) {
  const std::vector<ecgssl::data::batch> batches{make_batch({0, 1, 2}, views), make_batch({5, 3, 4}, views)};
  ecgssl::parameter_store<double> host_store, device_store;
  const auto h = criterion_run<Objective, ecgssl::host>(host_store, batches);
  const auto d = criterion_run<Objective, ecgssl::cuda>(device_store, batches);
  REQUIRE(h.size() == 2);
  REQUIRE(d.size() == 2);
  for (std::size_t k = 0; k < 2; ++k) {
    MESSAGE("micro-batch " << k << ": loss host " << std::to_string(h[k]) << ", cuda " << std::to_string(d[k]));
    CHECK(std::isfinite(h[k]));
    CHECK(h[k] > 0.0);
    CHECK(d[k] == doctest::Approx(h[k]).epsilon(1e-9));
  }
  gpu_pretrain::check_store_gradients(host_store, device_store, 1e-8);
}

template <template <class> class Objective, class Source>
void check_pretraining(std::shared_ptr<const Source> source, const std::string& method) {
  Objective<ecgssl::host> host_objective(small_options());
  Objective<ecgssl::cuda> device_objective(small_options());
  const auto h = gpu_pretrain::pretrain(host_objective, source, method, 3);
  const auto d = gpu_pretrain::pretrain(device_objective, source, method, 3);
  REQUIRE(h.losses.size() == 3);
  REQUIRE(d.losses.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("update " << i);
    MESSAGE(method << " update " << i << ": loss host " << std::to_string(h.losses[i]) << ", cuda "
                   << std::to_string(d.losses[i]));
    CHECK(d.losses[i] == doctest::Approx(h.losses[i]).epsilon(1e-9));
    REQUIRE(d.terms[i].size() == h.terms[i].size());
  }
  REQUIRE(d.after_last.size() == h.after_last.size());
  MESSAGE("largest parameter difference after update 1: " << gpu_pretrain::largest_difference(h, h.after_first, d.after_first));
  MESSAGE("largest parameter difference after update 3: " << gpu_pretrain::largest_difference(h, h.after_last, d.after_last));
  // Adam turns a gradient that is rounding noise on both sides (attention's key bias, which the
  // output ignores) into a step of its own; a pairing or pooling error moves every parameter
  // by about the learning rate (1e-3).
  CHECK(gpu_test::max_abs_difference(d.after_first, h.after_first) < 1e-5);
  CHECK(gpu_test::max_abs_difference(d.after_last, h.after_last) < 1e-5);
}

using views_t = ecgssl::data::two_view_source<synthetic_segments>;

std::shared_ptr<const views_t> view_source() {
  return std::make_shared<const views_t>(std::make_shared<const synthetic_segments>(single_source()));
}

}  // namespace

TEST_SUITE("with_device") {
TEST_CASE("CMSC criterion on cuda: losses and every parameter gradient of two micro-batches match the host") {
  check_criterion<cmsc_objective>(false);
}
TEST_CASE("SimCLR criterion on cuda: losses and every parameter gradient of two micro-batches match the host") {
  check_criterion<simclr_rlm_objective>(true);
}
TEST_CASE("3KG criterion on cuda: losses and every parameter gradient of two micro-batches match the host") {
  check_criterion<three_kg_objective>(true);
}

TEST_CASE("CMSC pre-training on cuda: three updates match the host run") {
  check_pretraining<cmsc_objective>(std::make_shared<const synthetic_segments>(pair_source()), "cmsc");
}
TEST_CASE("SimCLR+RLM pre-training on cuda: three updates match the host run") {
  check_pretraining<simclr_rlm_objective>(view_source(), "simclr_rlm");
}
TEST_CASE("3KG pre-training on cuda: three updates match the host run") {
  check_pretraining<three_kg_objective>(view_source(), "3kg");
}
}  // TEST_SUITE("with_device")

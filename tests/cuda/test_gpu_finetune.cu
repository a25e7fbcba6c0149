// Issue 8: the fine-tuning pipeline of spec §6 on the GPU against the host. The host model,
// losses, trainer and evaluation are the reference (proven by finite differences, PyTorch
// fixtures and real records in tests/pipeline, tests/loss and tests/cli). Both backends draw the
// same dropout masks (Philox, keyed alike) and see the same batches in the same order, so the
// runs differ only by summation order. Double precision keeps the comparison tight.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/arcface.cuh>
#include <ecgssl/cuda/attention_kernels.cuh>
#include <ecgssl/cuda/bce_with_logits.cuh>
#include <ecgssl/cuda/conv1d_kernels.cuh>
#include <ecgssl/cuda/device_parameters.cuh>
#include <ecgssl/cuda/device_tensor.cuh>
#include <ecgssl/cuda/elementwise_kernels.cuh>
#include <ecgssl/cuda/gumbel_quantizer_kernels.cuh>
#include <ecgssl/cuda/layout_kernels.cuh>
#include <ecgssl/cuda/linear_kernels.cuh>
#include <ecgssl/cuda/norm_kernels.cuh>
#include <ecgssl/cuda/pos_conv_kernels.cuh>
#include <ecgssl/cuda/span_mask_kernels.cuh>
#include <ecgssl/cuda/training_backend.cuh>
#include <ecgssl/pipeline/finetuning/evaluation.hpp>
#include <ecgssl/pipeline/finetuning/finetune_model.hpp>
#include <ecgssl/pipeline/finetuning/finetuner.hpp>

#include "gpu_test_support.hpp"

namespace {

using ecgssl::tensor;
using ecgssl::pipeline::finetune_model;
using ecgssl::pipeline::finetune_model_options;
using ecgssl::pipeline::finetune_task;
using ecgssl::data::segment_set;
using gpu_test::relative_difference;

// The small encoder of the GPU tests as a fine-tuned model.
finetune_model_options small_finetune_options(finetune_task task, std::size_t classes) {
  finetune_model_options o;
  o.task = task;
  o.classes = classes;
  o.pretrained = false;  // Random Init.: the extractor trains too, so every layer's gradient is compared
  o.encoder = ecgssl::pipeline::finetuning_encoder_options(gpu_test::small_encoder_options(), false);
  return o;
}

// `n` synthetic 12-lead segments of `samples` samples: sines of a per-identity frequency plus
// noise; `per_identity` consecutive segments share an identity and a record; each segment has
// one or two of the 26 labels.
segment_set synthetic_segments(std::size_t n, std::size_t samples, std::size_t per_identity, std::uint64_t seed) {
  segment_set s;
  s.signals = tensor<float, 3>::from_shape({n, 12, samples});
  s.labels = tensor<float, 2>::from_shape({n, 26});
  std::fill(s.labels.begin(), s.labels.end(), 0.0f);
  const ecgssl::random_stream rng(seed, 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t id = i / per_identity;
    for (std::size_t l = 0; l < 12; ++l) {
      for (std::size_t t = 0; t < samples; ++t) {
        const double time = static_cast<double>(t) / 500.0;
        s.signals(i, l, t) = static_cast<float>(
            std::sin(2.0 * 3.14159265358979 * (1.0 + 0.15 * static_cast<double>(id)) * time + 0.3 * static_cast<double>(l)) +
            0.1 * rng.normal((i * 12 + l) * samples + t));
      }
    }
    s.labels(i, rng.below(1000000 + i, 26)) = 1.0f;
    s.labels(i, rng.below(2000000 + i, 26)) = 1.0f;
    s.identities.push_back(static_cast<std::int64_t>(id));
    s.record_ids.push_back("r" + std::to_string(id));
  }
  return s;
}

// Each parameter tensor's values (or gradients) compared relative to its largest magnitude on
// the host, with a floor of a thousandth of the model's largest (exact zeros hold noise).
void check_stores(std::span<const double> host_values, std::span<const double> device_values,
                  const ecgssl::parameter_store<double>& layout, double tolerance, const char* what) {
  REQUIRE(host_values.size() == device_values.size());
  double largest = 0;
  for (const double v : host_values) largest = std::max(largest, std::abs(v));
  REQUIRE(largest > 0);
  for (const auto& entry : layout.entries()) {
    const double diff = relative_difference(device_values.data() + entry.offset, host_values.data() + entry.offset,
                                            entry.size, 1e-3 * largest);
    INFO(what << " of " << entry.name);
    CHECK(diff < tolerance);
  }
}

}  // namespace

TEST_SUITE("with_device") {
TEST_CASE("finetune_model on cuda: arrhythmia logits, BCE and every parameter gradient match the host") {
  using T = double;
  const auto options = small_finetune_options(finetune_task::arrhythmia, 26);
  finetune_model<T, ecgssl::host> host_model(options, 9);
  finetune_model<T, ecgssl::cuda> device_model(options, 9);
  REQUIRE(host_model.store().size() == device_model.store().size());
  ecgssl::device_parameters<T> mirror(device_model.store());

  const segment_set set = synthetic_segments(3, 1200, 1, 31);
  tensor<T, 3> batch;
  const std::vector<std::size_t> items{0, 1, 2};
  set.gather(std::span<const std::size_t>(items), ecgssl::io::lead_set::parse("6"), batch);  // zero-filled leads too
  tensor<T, 2> targets = tensor<T, 2>::from_shape({3, 26});
  for (std::size_t i = 0; i < targets.size(); ++i) targets.data()[i] = static_cast<T>(set.labels.data()[i]);

  host_model.set_training(true);
  device_model.set_training(true);
  host_model.set_step(5, 2);
  device_model.set_step(5, 2);  // the same activation-dropout masks
  const auto& host_logits = host_model.logits(batch);
  const auto& device_logits_on_device = device_model.logits(batch);
  const tensor<T, 2> device_logits = device_model.on_host(device_logits_on_device);
  CHECK(relative_difference(device_logits.data(), host_logits.data(), host_logits.size()) < 1e-10);

  ecgssl::bce_with_logits<T, ecgssl::host> host_bce;
  ecgssl::bce_with_logits<T, ecgssl::cuda> device_bce;
  host_bce.set_targets(targets);
  device_bce.set_targets(targets);
  const T host_loss = host_bce.forward(host_logits);
  const T device_loss = device_bce.forward(device_logits_on_device);
  CHECK(device_loss == doctest::Approx(host_loss).epsilon(1e-10));

  tensor<T, 2> host_grad = tensor<T, 2>::from_shape(host_logits.shape());
  std::fill(host_grad.begin(), host_grad.end(), T(0));
  ecgssl::device_tensor<T, 2> device_grad;
  device_grad.ensure_shape(device_logits_on_device.shape());
  device_grad.zero();
  host_bce.backward(T(1), host_grad);
  device_bce.backward(T(1), device_grad);
  host_model.store().zero_grad();
  mirror.zero_grads();
  host_model.backward_logits(host_grad);
  device_model.backward_logits(device_grad);
  mirror.download_grads(device_model.store());
  check_stores(host_model.store().grads(), device_model.store().grads(), host_model.store(), 1e-9, "gradient");

  // evaluation mode: dropout off, the pooled embedding and the logits agree
  host_model.set_training(false);
  device_model.set_training(false);
  const tensor<T, 2> host_pooled = host_model.embed(batch);
  const tensor<T, 2> device_pooled = device_model.on_host(device_model.embed(batch));
  CHECK(relative_difference(device_pooled.data(), host_pooled.data(), host_pooled.size()) < 1e-10);
}

TEST_CASE("finetune_model on cuda: identification ArcFace loss and every parameter gradient match the host") {
  using T = double;
  const auto options = small_finetune_options(finetune_task::identification, 5);
  finetune_model<T, ecgssl::host> host_model(options, 4);
  finetune_model<T, ecgssl::cuda> device_model(options, 4);
  ecgssl::device_parameters<T> mirror(device_model.store());

  const segment_set set = synthetic_segments(4, 1200, 1, 37);
  tensor<T, 3> batch;
  const std::vector<std::size_t> items{0, 1, 2, 3};
  set.gather(std::span<const std::size_t>(items), ecgssl::io::lead_set(), batch);
  const std::vector<std::int64_t> ids{0, 3, 1, 3};
  host_model.set_step(8, 1);
  device_model.set_step(8, 1);
  host_model.arcface_loss().set_targets(std::span<const std::int64_t>(ids));
  device_model.arcface_loss().set_targets(std::span<const std::int64_t>(ids));
  const T host_loss = host_model.arcface_loss().forward(host_model.embed(batch));
  const T device_loss = device_model.arcface_loss().forward(device_model.embed(batch));
  CHECK(device_loss == doctest::Approx(host_loss).epsilon(1e-10));
  host_model.store().zero_grad();
  mirror.zero_grads();
  host_model.arcface_loss().backward(T(1), host_model.prepare_pooled_gradient());
  device_model.arcface_loss().backward(T(1), device_model.prepare_pooled_gradient());
  host_model.backward_pooled();
  device_model.backward_pooled();
  mirror.download_grads(device_model.store());
  check_stores(host_model.store().grads(), device_model.store().grads(), host_model.store(), 1e-9, "gradient");
}

TEST_CASE("finetuner on cuda: arrhythmia epochs, validation and the kept parameters match the host") {
  using T = double;
  const auto options = small_finetune_options(finetune_task::arrhythmia, 26);
  const segment_set all = synthetic_segments(12, 1200, 1, 41);
  std::vector<std::size_t> train_items, valid_items;
  for (std::size_t i = 0; i < all.size(); ++i) (i % 3 == 2 ? valid_items : train_items).push_back(i);
  const segment_set train = all.subset(train_items);
  const segment_set valid = all.subset(valid_items);
  ecgssl::pipeline::finetune_options fo;
  fo.epochs = 3;
  fo.batch_size = 3;  // 8 training segments: the last batch of each epoch is short
  fo.learning_rate = 1e-3;
  fo.seed = 6;
  fo.leads = ecgssl::io::lead_set::parse("3");

  finetune_model<T, ecgssl::host> host_model(options, 2);
  finetune_model<T, ecgssl::cuda> device_model(options, 2);
  ecgssl::pipeline::finetuner<T, ecgssl::host> host_trainer(host_model, fo);
  ecgssl::pipeline::finetuner<T, ecgssl::cuda> device_trainer(device_model, fo);
  std::vector<double> host_losses, device_losses;
  host_trainer.on_step = [&](const ecgssl::pipeline::step_record& r) { host_losses.push_back(r.loss); };
  device_trainer.on_step = [&](const ecgssl::pipeline::step_record& r) { device_losses.push_back(r.loss); };
  const auto host_history = host_trainer.fit(train, &valid);
  const auto device_history = device_trainer.fit(train, &valid);

  REQUIRE(host_losses.size() == 9);
  REQUIRE(device_losses.size() == host_losses.size());
  for (std::size_t i = 0; i < host_losses.size(); ++i) {
    INFO("update " << i + 1);
    CHECK(device_losses[i] == doctest::Approx(host_losses[i]).epsilon(1e-8));
  }
  REQUIRE(device_history.size() == host_history.size());
  for (std::size_t e = 0; e < host_history.size(); ++e) {
    INFO("epoch " << e + 1);
    CHECK(device_history[e].valid_metric == doctest::Approx(host_history[e].valid_metric).epsilon(1e-9));
    CHECK(device_history[e].best == host_history[e].best);
  }
  CHECK(device_trainer.best_metric() == doctest::Approx(host_trainer.best_metric()).epsilon(1e-9));
  // fit leaves the kept epoch's values in the host store on both backends
  check_stores(host_model.store().values(), device_model.store().values(), host_model.store(), 1e-7, "value");

  // evaluation outside fit: the model reads a fresh device mirror of the kept values
  ecgssl::inference_parameters<T, ecgssl::cuda> parameters(device_model.store());
  const auto host_probabilities = ecgssl::pipeline::predict_probabilities(host_model, valid, fo.leads, 2);
  const auto device_probabilities = ecgssl::pipeline::predict_probabilities(device_model, valid, fo.leads, 2);
  CHECK(relative_difference(device_probabilities.data(), host_probabilities.data(), host_probabilities.size()) < 1e-6);
}

TEST_CASE("finetuner on cuda: identification with the tri-stage schedule and top-1 retrieval match the host") {
  using T = double;
  // 6 identities of 3 segments: 4 train identities, 2 held out (gallery + probe each)
  const segment_set all = synthetic_segments(18, 1200, 3, 43);
  std::vector<std::size_t> train_items, valid_items;
  for (std::size_t i = 0; i < all.size(); ++i) (i < 12 ? train_items : valid_items).push_back(i);
  const segment_set train = all.subset(train_items);
  const segment_set valid = all.subset(valid_items);
  const auto options = small_finetune_options(finetune_task::identification, 4);
  ecgssl::pipeline::finetune_options fo;
  fo.epochs = 2;
  fo.batch_size = 4;
  fo.seed = 3;
  fo.learning_rate = 1e-3;

  finetune_model<T, ecgssl::host> host_model(options, 7);
  finetune_model<T, ecgssl::cuda> device_model(options, 7);
  ecgssl::pipeline::finetuner<T, ecgssl::host> host_trainer(host_model, fo);
  ecgssl::pipeline::finetuner<T, ecgssl::cuda> device_trainer(device_model, fo);
  std::vector<double> host_losses, device_losses, host_rates, device_rates;
  host_trainer.on_step = [&](const ecgssl::pipeline::step_record& r) {
    host_losses.push_back(r.loss);
    host_rates.push_back(r.learning_rate);
  };
  device_trainer.on_step = [&](const ecgssl::pipeline::step_record& r) {
    device_losses.push_back(r.loss);
    device_rates.push_back(r.learning_rate);
  };
  const auto host_history = host_trainer.fit(train, &valid);
  const auto device_history = device_trainer.fit(train, &valid);
  REQUIRE(host_losses.size() == 6);
  REQUIRE(device_losses.size() == host_losses.size());
  for (std::size_t i = 0; i < host_losses.size(); ++i) {
    INFO("update " << i + 1);
    CHECK(device_rates[i] == host_rates[i]);
    CHECK(device_losses[i] == doctest::Approx(host_losses[i]).epsilon(1e-8));
  }
  REQUIRE(device_history.size() == host_history.size());
  for (std::size_t e = 0; e < host_history.size(); ++e) {
    CHECK(device_history[e].valid_metric == host_history[e].valid_metric);  // top-1 of 2 probes: 0, 0.5 or 1
  }
  check_stores(host_model.store().values(), device_model.store().values(), host_model.store(), 1e-7, "value");
}

}  // TEST_SUITE("with_device")

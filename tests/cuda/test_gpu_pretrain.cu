// Issue 8: the whole encoder and the paper's pre-training pipeline on the GPU against the host.
// The host encoder, losses and trainer are the reference (proven by finite differences and
// PyTorch fixtures in tests/model, tests/loss and tests/pipeline). Both backends draw the same
// span masks, dropout masks, Gumbel noise and negatives (Philox, keyed alike), so the two runs
// differ only by summation order. Double precision, so that no argmax (the quantizer's code
// choice) can flip between the backends and the comparison is tight.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
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
#include <ecgssl/cuda/norm_kernels.cuh>
#include <ecgssl/cuda/pos_conv_kernels.cuh>
#include <ecgssl/cuda/span_mask_kernels.cuh>
#include <ecgssl/cuda/training_backend.cuh>
#include <ecgssl/cuda/wav2vec2_contrastive.cuh>
#include <ecgssl/data/segment_source.hpp>
#include <ecgssl/model/configs.hpp>
#include <ecgssl/model/ecg_transformer.hpp>
#include <ecgssl/pipeline/pretrain_method.hpp>
#include <ecgssl/pipeline/pretrainer.hpp>

#include "gpu_test_support.hpp"

namespace {


using ecgssl::device_tensor;

using ecgssl::tensor;
using gpu_test::relative_difference;

// A smaller tiny encoder (fast on both backends) with every part the paper's model has.
ecgssl::model::ecg_transformer_options small_options() {
  auto o = ecgssl::model::tiny_config<double>::options();
  o.conv_dim = 32;
  o.embed_dim = 48;  // != conv_dim: post_extract_proj is used
  o.final_dim = 16;
  o.layers = 2;
  o.heads = 4;
  o.ffn_dim = 64;
  o.latent_vars = 24;
  o.pos_kernel = 16;
  o.pos_groups = 4;
  o.apply_mask = true;
  o.pretraining_heads = true;
  return o;
}

template <class T, class B>
struct config {
  using scalar_type = T;
  using backend_type = B;
  static ecgssl::model::ecg_transformer_options options() { return small_options(); }
};

// Each parameter tensor's gradient compared relative to its largest magnitude on the host.
template <class T>
void check_store_gradients(const ecgssl::parameter_store<T>& host_store, const ecgssl::parameter_store<T>& device_store,
                           double tolerance) {
  REQUIRE(host_store.entries().size() == device_store.entries().size());
  // Some gradients are exactly zero in exact arithmetic (attention's key bias: softmax ignores a
  // shift shared by all keys), so both sides hold rounding noise: judge every tensor against at
  // least a thousandth of the model's largest gradient.
  double largest = 0;
  for (const T g : host_store.grads()) largest = std::max(largest, std::abs(static_cast<double>(g)));
  for (std::size_t i = 0; i < host_store.entries().size(); ++i) {
    const auto& entry = host_store.entries()[i];
    REQUIRE(device_store.entries()[i].name == entry.name);
    const T* h = host_store.grads().data() + entry.offset;
    const T* d = device_store.grads().data() + entry.offset;
    const double diff = relative_difference(d, h, entry.size, 1e-3 * largest);
    INFO("gradient of " << entry.name);
    CHECK(diff < tolerance);
  }
}

}  // namespace

TEST_CASE("ecg_transformer on cuda: forward outputs and every parameter gradient match the host") {
  using T = double;
  ecgssl::model::ecg_transformer<config<T, ecgssl::host>> host_model;
  ecgssl::model::ecg_transformer<config<T, ecgssl::cuda>> device_model;
  ecgssl::parameter_store<T> host_store, device_store;
  host_model.declare_parameters(host_store);
  device_model.declare_parameters(device_store);
  host_store.allocate();
  device_store.allocate();
  const ecgssl::random_stream init(5, 1);
  host_model.initialize(init);
  device_model.initialize(init);
  ecgssl::device_parameters<T> mirror(device_store);

  const auto x = gpu_test::random_tensor<T, 3>(17, {3, 12, 1200}, 1);
  const device_tensor<T, 3> dx_input(x);
  host_model.set_training(true);
  device_model.set_training(true);
  host_model.set_step(11, 4);
  device_model.set_step(11, 4);
  host_model.set_num_updates(1000);
  device_model.set_num_updates(1000);
  const auto& h = host_model.forward(x);
  const auto& d = device_model.forward(dx_input);

  CHECK(h.mask == d.mask);
  CHECK(h.masked_rows == d.masked_rows);
  REQUIRE(h.masked_rows.size() > 0);
  CHECK(h.masked_per_sample == d.masked_per_sample);
  const auto features = d.features.to_host();
  const auto encoded = d.encoded.to_host();
  const auto predictions = d.predictions.to_host();
  const auto targets = d.targets.to_host();
  CHECK(relative_difference(features.data(), h.features.data(), h.features.size()) < 1e-11);
  CHECK(relative_difference(encoded.data(), h.encoded.data(), h.encoded.size()) < 1e-10);
  CHECK(relative_difference(predictions.data(), h.predictions.data(), h.predictions.size()) < 1e-10);
  CHECK(relative_difference(targets.data(), h.targets.data(), h.targets.size()) < 1e-10);
  CHECK(d.prob_perplexity == doctest::Approx(h.prob_perplexity).epsilon(1e-10));
  CHECK(d.code_perplexity == doctest::Approx(h.code_perplexity).epsilon(1e-12));
  CHECK(d.temperature == h.temperature);

  // every output gradient non-zero, the perplexity's too
  ecgssl::model::ecg_transformer<config<T, ecgssl::host>>::gradients hg;
  hg.predictions = gpu_test::random_tensor<T, 2>(17, {h.predictions.shape()[0], h.predictions.shape()[1]}, 2);
  hg.targets = gpu_test::random_tensor<T, 2>(17, {h.targets.shape()[0], h.targets.shape()[1]}, 3);
  hg.features = gpu_test::random_tensor<T, 3>(17, {h.features.shape()[0], h.features.shape()[1], h.features.shape()[2]}, 4);
  hg.encoded = gpu_test::random_tensor<T, 3>(17, {h.encoded.shape()[0], h.encoded.shape()[1], h.encoded.shape()[2]}, 5);
  hg.prob_perplexity = T(-0.3);
  ecgssl::model::ecg_transformer<config<T, ecgssl::cuda>>::gradients dg;
  dg.predictions.copy_from_host(hg.predictions);
  dg.targets.copy_from_host(hg.targets);
  dg.features.copy_from_host(hg.features);
  dg.encoded.copy_from_host(hg.encoded);
  dg.prob_perplexity = hg.prob_perplexity;
  host_store.zero_grad();
  mirror.zero_grads();
  host_model.backward(hg);
  device_model.backward(dg);
  mirror.download_grads(device_store);
  check_store_gradients(host_store, device_store, 1e-9);

  // evaluation: no mask, no heads, dropout off
  host_model.set_training(false);
  device_model.set_training(false);
  const auto& he = host_model.forward(x);
  const auto& de = device_model.forward(dx_input);
  CHECK(de.masked_rows.empty());
  const auto encoded_eval = de.encoded.to_host();
  CHECK(relative_difference(encoded_eval.data(), he.encoded.data(), he.encoded.size()) < 1e-10);
}

namespace {

// Two consecutive synthetic 12-lead segments per item (a CMSC pair), each record a different
// mixture of sines with noise, so that segments, records and leads all differ.
struct synthetic_pairs {
  std::size_t items = 6;
  std::size_t samples = 1200;
  [[nodiscard]] std::size_t size() const { return items; }
  [[nodiscard]] std::size_t parts() const { return 2; }
  void read(std::size_t item, std::size_t part, tensor<float, 2>& x, ecgssl::data::segment_meta& meta) const {
    x.resize({12, samples});
    const ecgssl::random_stream noise(23, item * 2 + part);
    for (std::size_t l = 0; l < 12; ++l) {
      for (std::size_t t = 0; t < samples; ++t) {
        const double s = static_cast<double>(t + part * samples) / 500.0;
        x(l, t) = static_cast<float>(std::sin(2.0 * 3.14159265358979 * (1.0 + 0.1 * static_cast<double>(item)) * s +
                                              0.3 * static_cast<double>(l)) +
                                     0.1 * noise.normal(l * samples + t));
      }
    }
    meta.record_id = "r" + std::to_string(item);
    meta.segment = part;
    meta.identity = static_cast<std::int64_t>(item);
  }
};
static_assert(ecgssl::data::segment_source<synthetic_pairs>);

template <class B>
using paper_objective = ecgssl::pipeline::w2v_cmsc_rlm_objective<config<double, B>>;

template <class B>
std::vector<double> pretrain_losses(std::vector<double>& final_values, std::vector<std::vector<double>>& terms) {
  paper_objective<B> objective(small_options());
  ecgssl::pipeline::pretrainer_options o;
  o.batch_items = 3;
  o.update_freq = 2;
  o.seed = 9;
  o.learning_rate = 1e-3;
  o.loader_threads = 0;
  o.method = "w2v_cmsc_rlm";
  ecgssl::pipeline::pretrainer<paper_objective<B>, synthetic_pairs> trainer(objective, std::make_shared<synthetic_pairs>(), o);
  const auto history = trainer.run(4, "", 0);
  std::vector<double> losses;
  for (const auto& r : history) {
    losses.push_back(r.loss);
    std::vector<double> t;
    for (const auto& [name, value] : r.terms) t.push_back(value);
    terms.push_back(t);
  }
  const auto values = trainer.parameters().values();
  final_values.assign(values.begin(), values.end());
  return losses;
}

}  // namespace

TEST_CASE("W2V+CMSC+RLM pre-training on cuda: four updates match the host run") {
  std::vector<double> host_values, device_values;
  std::vector<std::vector<double>> host_terms, device_terms;
  const auto host_losses = pretrain_losses<ecgssl::host>(host_values, host_terms);
  const auto device_losses = pretrain_losses<ecgssl::cuda>(device_values, device_terms);
  REQUIRE(host_losses.size() == 4);
  REQUIRE(device_losses.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    INFO("update " << i);
    CHECK(device_losses[i] == doctest::Approx(host_losses[i]).epsilon(1e-9));
    REQUIRE(device_terms[i].size() == host_terms[i].size());
    for (std::size_t k = 0; k < host_terms[i].size(); ++k) {
      CHECK(device_terms[i][k] == doctest::Approx(host_terms[i][k]).epsilon(1e-8));
    }
  }
  REQUIRE(device_values.size() == host_values.size());
  CHECK(gpu_test::max_abs_difference(device_values, host_values) < 1e-9);
}

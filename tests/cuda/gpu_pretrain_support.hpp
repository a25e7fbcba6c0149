// Helpers of the GPU pre-training tests (test_gpu_pretrain.cu, test_gpu_global_criteria.cu): a
// small encoder configuration on either backend, a synthetic segment source, and a short
// pretrainer run recording losses and parameters, so that the host and the cuda run of one
// objective can be compared. nvcc only (the cuda instantiations need the .cuh headers).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/core/tensor.hpp>
#include <ecgssl/data/segment_source.hpp>
#include <ecgssl/model/configs.hpp>
#include <ecgssl/pipeline/pretraining/pretrainer.hpp>

#include "gpu_test_support.hpp"

namespace gpu_pretrain {

// The small encoder of the GPU tests (gpu_test::small_encoder_options) with the pre-training
// masking and heads.
inline ecgssl::model::ecg_transformer_options small_options() {
  auto o = gpu_test::small_encoder_options();
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

// `items` items of `segments_per_item` consecutive synthetic 12-lead segments (2: a CMSC pair),
// each record a different mixture of sines with noise, so that segments, records and leads all
// differ. Item i has identity i / items_per_identity.
struct synthetic_segments {
  std::size_t items = 6;
  std::size_t segments_per_item = 2;
  std::size_t items_per_identity = 1;
  std::size_t samples = 2500;  // the loader takes 5 s segments at 500 Hz
  [[nodiscard]] std::size_t size() const { return items; }
  [[nodiscard]] std::size_t parts() const { return segments_per_item; }
  void read(std::size_t item, std::size_t part, ecgssl::tensor<float, 2>& x, ecgssl::data::segment_meta& meta) const {
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
    meta.identity = static_cast<std::int64_t>(item / items_per_identity);
  }
};
static_assert(ecgssl::data::segment_source<synthetic_segments>);

// What a short run recorded: per update the loss and its terms; the parameters after the first
// and after the last update, with the store's entries to name them.
struct pretrain_run {
  std::vector<double> losses;
  std::vector<std::vector<double>> terms;
  std::vector<double> after_first, after_last;
  std::vector<ecgssl::parameter_entry> entries;
};

// `updates` updates in all (at least 1) of `objective` on `source` (3 items per micro-batch, 2 micro-batches
// per update, Adam at 1e-3, seed 9, batches built in the calling thread).
template <class Objective, class Source>
pretrain_run pretrain(Objective& objective, std::shared_ptr<const Source> source, const std::string& method,
                      std::int64_t updates) {
  ecgssl::pipeline::pretrainer_options o;
  o.batch_items = 3;
  o.update_freq = 2;
  o.seed = 9;
  o.learning_rate = 1e-3;
  o.loader_threads = 0;
  o.method = method;
  ecgssl::pipeline::pretrainer<Objective, Source> trainer(objective, std::move(source), o);
  pretrain_run run;
  auto history = trainer.run(1, "", 0);
  const auto first = trainer.parameters().values();
  run.after_first.assign(first.begin(), first.end());
  const auto rest = trainer.run(updates, "", 0);
  history.insert(history.end(), rest.begin(), rest.end());
  for (const auto& r : history) {
    run.losses.push_back(r.loss);
    std::vector<double> t;
    for (const auto& [name, value] : r.terms) t.push_back(value);
    run.terms.push_back(t);
  }
  const auto last = trainer.parameters().values();
  run.after_last.assign(last.begin(), last.end());
  run.entries = trainer.parameters().entries();
  return run;
}

// The entry whose values differ most between the runs, and by how much.
inline std::string largest_difference(const pretrain_run& a, const std::vector<double>& x, const std::vector<double>& y) {
  std::string name;
  double worst = -1;
  for (const auto& e : a.entries) {
    for (std::size_t k = 0; k < e.size; ++k) {
      const double d = std::abs(x[e.offset + k] - y[e.offset + k]);
      if (d > worst) {
        worst = d;
        name = e.name;
      }
    }
  }
  return name + " " + std::to_string(worst);
}

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
    const double diff = gpu_test::relative_difference(d, h, entry.size, 1e-3 * largest);
    INFO("gradient of " << entry.name);
    CHECK(diff < tolerance);
  }
}

}  // namespace gpu_pretrain

// finetune_model: gradients of pooling + head through the encoder (finite differences, double),
// pre-trained loading (heads dropped, strict), frozen extractor, linear probe.
#include <doctest/doctest.h>

#include <ecgssl/loss/bce_with_logits.hpp>
#include <ecgssl/pipeline/finetuning/finetune_model.hpp>

#include <cmath>
#include <filesystem>

#include "support/gradient_check.hpp"

using ecgssl::pipeline::finetune_model;
using ecgssl::pipeline::finetune_model_options;
using ecgssl::pipeline::finetune_task;

namespace {

ecgssl::model::ecg_transformer_options micro_encoder() {
  ecgssl::model::ecg_transformer_options o;
  o.conv_dim = 6;
  o.conv_layers = 2;
  o.embed_dim = 8;
  o.layers = 1;
  o.heads = 2;
  o.ffn_dim = 12;
  o.pos_kernel = 4;
  o.pos_groups = 2;
  o.dropout = o.attention_dropout = o.activation_dropout = o.dropout_input = o.dropout_features = 0.0;
  o.final_dim = 4;
  o.latent_vars = 3;
  return o;
}

ecgssl::tensor<double, 3> micro_input(std::size_t batch) {
  ecgssl::tensor<double, 3> x = ecgssl::tensor<double, 3>::from_shape({batch, 12, 24});
  const ecgssl::random_stream rng(7, 1);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = rng.normal(i);
  return x;
}

}  // namespace

TEST_CASE("finetune_model: arrhythmia loss gradient matches central differences for every trainable tensor") {
  finetune_model_options o;
  o.encoder = micro_encoder();
  o.pretrained = false;
  o.classes = 26;
  finetune_model<double> model(o, 3);
  model.set_training(false);
  const auto x = micro_input(3);
  ecgssl::tensor<double, 2> y = xt::zeros<double>({3, 26});
  y(0, 3) = 1;
  y(1, 14) = 1;
  y(2, 0) = 1;
  y(2, 14) = 1;
  ecgssl::bce_with_logits<double> bce;
  bce.set_targets(y);
  auto loss = [&] { return bce.forward(model.logits(x)); };
  model.store().zero_grad();
  loss();
  ecgssl::tensor<double, 2> d = xt::zeros<double>({3, 26});
  bce.backward(1.0, d);
  model.backward_logits(d);
  std::vector<double> analytic(model.store().grads().begin(), model.store().grads().end());
  const auto report = ecgssl::testing::check_gradient(model.store().values(), analytic, loss, "all parameters", 1e-5, 1e-4);
  INFO(report.where, " index ", report.worst_index, " analytic ", report.analytic, " numeric ", report.numeric);
  CHECK(report.max_relative_error < 1e-5);
}

TEST_CASE("finetune_model: identification ArcFace gradient matches central differences") {
  finetune_model_options o;
  o.task = finetune_task::identification;
  o.encoder = micro_encoder();
  o.pretrained = false;
  o.classes = 4;
  o.arcface_scale = 4.0;  // the paper's s = 192 saturates the softmax at this size
  o.arcface_margin = 0.3;
  finetune_model<double> model(o, 5);
  model.set_training(false);
  const auto x = micro_input(3);
  const std::vector<std::int64_t> ids{0, 2, 3};
  auto& arc = model.arcface_loss();
  arc.set_targets(ids);
  auto loss = [&] { return arc.forward(model.embed(x)); };
  model.store().zero_grad();
  loss();
  arc.backward(1.0, model.prepare_pooled_gradient());
  model.backward_pooled();
  std::vector<double> analytic(model.store().grads().begin(), model.store().grads().end());
  const auto report = ecgssl::testing::check_gradient(model.store().values(), analytic, loss, "all parameters", 1e-5, 1e-4);
  INFO(report.where, " index ", report.worst_index, " analytic ", report.analytic, " numeric ", report.numeric);
  CHECK(report.max_relative_error < 1e-5);
}

TEST_CASE("finetune_model: heads and initial values follow spec 3.10") {
  finetune_model_options o;
  o.encoder = micro_encoder();
  finetune_model<float> model(o, 1);
  const auto w = model.store().values("head.weight");
  const double bound = std::sqrt(6.0 / (8 + 26));  // xavier_uniform
  double max_abs = 0;
  for (float v : w) max_abs = std::max(max_abs, double(std::abs(v)));
  CHECK(max_abs <= bound);
  CHECK(max_abs > 0.8 * bound);
  for (float v : model.store().values("head.bias")) CHECK(v == 0.0f);
  CHECK(model.store().find("quantizer.weight_proj.weight") == nullptr);

  o.task = finetune_task::identification;
  o.classes = 5;
  finetune_model<float> id_model(o, 1);
  const auto a = id_model.store().values("arcface.weight");
  for (std::size_t r = 0; r < 5; ++r) {
    double n = 0;
    for (std::size_t k = 0; k < 8; ++k) n += double(a[r * 8 + k]) * a[r * 8 + k];
    CHECK(std::sqrt(n) == doctest::Approx(1.0).epsilon(1e-5));
  }
}

TEST_CASE("finetune_model: loads a pre-training checkpoint strictly, dropping its heads") {
  // A pre-training encoder (with heads) saved as the pre-trainer saves it.
  auto pre = micro_encoder();
  pre.pretraining_heads = true;
  ecgssl::parameter_store<float> store;
  ecgssl::model::ecg_transformer<finetune_model<float>::encoder_config> encoder(pre);
  encoder.declare_parameters(store);
  store.allocate();
  encoder.initialize(ecgssl::random_stream(11, 0));
  ecgssl::io::checkpoint ck;
  ck.add_parameters(store);
  ck.add_scalar("trainer.step", 3);
  const auto path = std::filesystem::temp_directory_path() / "ecgssl_test_finetune_pre.safetensors";
  ck.save(path);

  finetune_model_options o;
  o.encoder = micro_encoder();
  finetune_model<float> model(o, 2);
  const std::vector<float> head(model.store().values("head.weight").begin(), model.store().values("head.weight").end());
  const auto report = model.load_pretrained(ecgssl::io::checkpoint::load(path));
  CHECK(!report.skipped.empty());  // quantizer, project_q, final_proj, mask_emb
  const auto name = "encoder.layers.0.fc1.weight";
  const auto a = store.values(name);
  const auto b = model.store().values(name);
  CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  const auto h = model.store().values("head.weight");
  CHECK(std::equal(head.begin(), head.end(), h.begin(), h.end()));  // fresh head kept
  // The frozen extractor is not trainable; transformer and head are.
  CHECK_FALSE(model.store().find("feature_extractor.conv_layers.0.0.weight")->attributes.trainable);
  CHECK(model.store().find(name)->attributes.trainable);

  // A checkpoint missing an encoder tensor is refused (strict), naming it.
  ecgssl::io::checkpoint partial;
  for (const auto& e : store.entries()) {
    if (e.name == name) continue;
    partial.add_tensor<float>(e.name, e.shape, std::span<const float>(store.values(e.name)));
  }
  partial.save(path);
  CHECK_THROWS_WITH_AS(model.load_pretrained(ecgssl::io::checkpoint::load(path)), doctest::Contains(name),
                       ecgssl::io_error);
}

TEST_CASE("finetune_model: linear probe trains the head only") {
  finetune_model_options o;
  o.encoder = micro_encoder();
  o.linear_probe = true;
  finetune_model<float> model(o, 2);
  for (const auto& e : model.store().entries()) {
    CHECK(e.attributes.trainable == (e.name.rfind("head.", 0) == 0));
  }
  CHECK_THROWS_AS((void)model.arcface_loss(), ecgssl::config_error);
}

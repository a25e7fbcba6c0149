// ecgssl finetune: runs on real records, reports per-epoch validation, writes a loadable model.
#include "commands.hpp"
#include <doctest/doctest.h>


#include "finetuned_fixture.hpp"

TEST_CASE("finetune: random-init arrhythmia run prints epochs and writes a fine-tuned checkpoint") {
  const auto& f = ecgssl::test_support::finetuned();
  CHECK(f.log.find("epoch 1/2") != std::string::npos);
  CHECK(f.log.find("valid challenge_score") != std::string::npos);
  CHECK(f.log.find("finetune arrhythmia [") != std::string::npos);  // progress bar
  ecgssl::pipeline::finetune_checkpoint_info info;
  const auto model = ecgssl::pipeline::load_finetuned<float>(f.model, &info);
  CHECK(info.model.task == ecgssl::pipeline::finetune_task::arrhythmia);
  CHECK(info.model.classes == 26);
  CHECK_FALSE(info.model.pretrained);
  CHECK(info.model.encoder.embed_dim == 16);
  CHECK(info.model.encoder.activation_dropout == doctest::Approx(0.1));  // spec §5 fine-tuning
  CHECK(info.model.encoder.feature_grad_mult == doctest::Approx(1.0));  // Random Init. trains the extractor
  CHECK(info.split_seed == 3);
}

TEST_CASE("finetune: fine-tunes a pre-trained encoder strictly and rejects bad arguments") {
  const auto& f = ecgssl::test_support::finetuned();
  // A "pre-trained" checkpoint: the micro encoder with its pre-training heads, as ecgssl pretrain saves it.
  auto enc = ecgssl::model::encoder_config::resolve(f.config.string());
  ecgssl::parameter_store<float> store;
  ecgssl::model::ecg_transformer<ecgssl::pipeline::finetune_model<float>::encoder_config> encoder(enc);
  encoder.declare_parameters(store);
  store.allocate();
  encoder.initialize(ecgssl::random_stream(5, 0));
  ecgssl::io::checkpoint ck;
  ck.add_parameters(store);
  nlohmann::json j;
  j["model"] = ecgssl::model::encoder_config::to_json(enc);
  ck.set_config(j.dump());
  const auto pre = f.dir / "pre.safetensors";
  ck.save(pre);
  const auto out_path = f.dir / "from_pre.safetensors";
  std::ostringstream out, err;
  REQUIRE(ecgssl::cli::run_finetune({"--checkpoint", pre.string(), "--data", f.data.string(), "--leads", "I,II",
                                     "--epochs", "1", "--batch-size", "16", "--linear-probe", "--out", out_path.string()},
                                    out, err) == 0);
  ecgssl::pipeline::finetune_checkpoint_info info;
  const auto model = ecgssl::pipeline::load_finetuned<float>(out_path, &info);
  CHECK(info.model.pretrained);
  CHECK(info.model.linear_probe);
  CHECK(info.leads == "I,II");
  const auto a = store.values("encoder.layers.0.fc1.weight");
  const auto b = model->store().values("encoder.layers.0.fc1.weight");
  CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));  // linear probe: encoder unchanged

  std::ostringstream o2, e2;
  CHECK(ecgssl::cli::run_finetune({"--data", f.data.string(), "--out", "x"}, o2, e2) == 2);  // no encoder source
  CHECK(ecgssl::cli::run_finetune({"--checkpoint", pre.string(), "--random-init", "--data", "d", "--out", "x"}, o2, e2) == 2);
  std::ostringstream e3;
  CHECK(ecgssl::cli::run_finetune({"--random-init", "--data", f.data.string(), "--leads", "7", "--out", "x"}, o2, e3) == 1);
  CHECK(e3.str().find("--leads") != std::string::npos);
}

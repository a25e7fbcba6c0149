// ecgssl finetune: runs on real records, reports per-epoch validation, writes a loadable model.
#include "commands.hpp"
#include <ecgssl/io/manifest.hpp>
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

TEST_CASE("finetune --split folds: the manifest's folds decide the parts, and evaluate rebuilds them") {
  const auto& f = ecgssl::test_support::finetuned();
  std::ostringstream o, e;
  const auto plain = f.data / "folds_plain.csv";  // beside the records: its paths are relative to them
  REQUIRE(ecgssl::cli::run_manifest({f.data.string(), "--out", plain.string()}, o, e) == 0);
  // Folds by hand: the last two records test (10), the two before them validate (9), the rest train.
  auto m = ecgssl::io::manifest::load(plain);
  REQUIRE(m.entries.size() == 12);
  std::size_t test_segments = 0;
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    auto& entry = m.entries[i];
    entry.path = (f.data / entry.path).string();
    entry.fold = i >= 10 ? 10 : i >= 8 ? 9 : static_cast<int>(i % 8) + 1;
    if (i >= 10) test_segments += static_cast<std::size_t>(entry.samples / 2500);  // whole 5 s segments at 500 Hz
  }
  const auto folds = f.dir / "folds.csv";
  m.save(folds);

  const auto model = f.dir / "by_folds.safetensors";
  std::ostringstream out, err;
  const int rc = ecgssl::cli::run_finetune({"--random-init", "--config", f.config.string(), "--data", folds.string(),
                                            "--split", "folds", "--epochs", "1", "--batch-size", "8", "--out", model.string()},
                                           out, err);
  const std::string log = out.str() + err.str();
  REQUIRE_MESSAGE(rc == 0, log);
  ecgssl::pipeline::finetune_checkpoint_info info;
  (void)ecgssl::pipeline::load_finetuned<float>(model, &info);
  CHECK(info.split_by_folds);
  CHECK(info.valid_fold == 9);
  CHECK(info.test_fold == 10);

  std::ostringstream json, err2;
  REQUIRE(ecgssl::cli::run_evaluate({"--checkpoint", model.string(), "--data", folds.string(), "--leads", "12",
                                     "--split", "test", "--json"}, json, err2) == 0);
  CHECK(nlohmann::json::parse(json.str())["12"]["segments"].get<std::size_t>() == test_segments);

  // A record without a fold, the same fold twice, identification by folds: refused, named.
  m.entries[3].fold.reset();
  const auto holes = f.dir / "fold_holes.csv";
  m.save(holes);
  const auto refused = [&](std::vector<std::string> args, const std::string& expected) {
    std::ostringstream o3, e3;
    args.insert(args.end(), {"--random-init", "--config", f.config.string(), "--epochs", "1", "--out",
                             (f.dir / "never.safetensors").string()});
    CHECK(ecgssl::cli::run_finetune(args, o3, e3) != 0);
    CHECK_MESSAGE(e3.str().find(expected) != std::string::npos, e3.str());
    CHECK_FALSE(std::filesystem::exists(f.dir / "never.safetensors"));
  };
  refused({"--data", holes.string(), "--split", "folds"}, "record " + m.entries[3].record_id + " has no fold");
  refused({"--data", folds.string(), "--split", "folds", "--valid-fold", "10"}, "--test-fold");
  refused({"--data", folds.string(), "--split", "folds", "--test-fold", "7", "--valid-fold", "8", "--task", "identification"},
          "--split");
  refused({"--data", plain.string(), "--split", "folds"}, "has no fold");
  refused({"--data", folds.string(), "--split", "folds", "--test-fold", "11"}, "no record in test fold 11");
}

TEST_CASE("finetune --task superclass: five PTB-XL classes from the manifest, unlabelled records left out") {
  const auto& f = ecgssl::test_support::finetuned();
  std::ostringstream o, e;
  const auto plain = f.data / "superclass_plain.csv";
  REQUIRE(ecgssl::cli::run_manifest({f.data.string(), "--out", plain.string()}, o, e) == 0);
  auto m = ecgssl::io::manifest::load(plain);
  REQUIRE(m.entries.size() == 12);
  // Superclasses by hand (these Challenge records have none of their own); record 2 has none.
  const std::vector<std::vector<std::string>> classes{{"NORM"}, {"MI"}, {}, {"STTC", "CD"}, {"HYP"}, {"NORM"},
                                                      {"MI", "HYP"}, {"CD"}, {"NORM"}, {"STTC"}, {"MI"}, {"NORM", "CD"}};
  std::size_t test_segments = 0;
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    auto& entry = m.entries[i];
    entry.path = (f.data / entry.path).string();
    entry.fold = i >= 10 ? 10 : i >= 8 ? 9 : static_cast<int>(i % 8) + 1;
    entry.superclasses = classes[i];
    if (i >= 10) test_segments += static_cast<std::size_t>(entry.samples / 2500);
  }
  const auto labelled = f.dir / "superclasses.csv";
  m.save(labelled);

  const auto model = f.dir / "superclass.safetensors";
  std::ostringstream out, err;
  const int rc = ecgssl::cli::run_finetune({"--task", "superclass", "--random-init", "--config", f.config.string(), "--data",
                                            labelled.string(), "--split", "folds", "--epochs", "2", "--batch-size", "8",
                                            "--out", model.string()},
                                           out, err);
  const std::string log = out.str() + err.str();
  REQUIRE_MESSAGE(rc == 0, log);
  CHECK_MESSAGE(log.find("left out 1 records without a diagnostic superclass") != std::string::npos, log);
  CHECK_MESSAGE(log.find("valid auroc") != std::string::npos, log);
  ecgssl::pipeline::finetune_checkpoint_info info;
  (void)ecgssl::pipeline::load_finetuned<float>(model, &info);
  CHECK(info.model.task == ecgssl::pipeline::finetune_task::superclass);
  CHECK(info.model.classes == 5);
  const auto saved = ecgssl::io::checkpoint::load(model);
  const auto head = saved.file().tensor("head.weight").shape;
  CHECK(std::vector<std::size_t>(head.begin(), head.end()) == std::vector<std::size_t>{5, 16});

  std::ostringstream json, err2;
  REQUIRE(ecgssl::cli::run_evaluate({"--checkpoint", model.string(), "--data", labelled.string(), "--leads", "12", "1",
                                     "--split", "test", "--json", "--bootstrap", "20"}, json, err2) == 0);
  const auto j = nlohmann::json::parse(json.str());
  CHECK(j["12"]["segments"].get<std::size_t>() == test_segments);
  CHECK_FALSE(j["12"].contains("challenge_score"));  // its weights exist for the 26 Challenge classes only
  const double auroc = j["12"]["auroc"].get<double>();
  CHECK((auroc >= 0.0 && auroc <= 1.0));
  CHECK(j["1"]["intervals"].contains("auroc"));
  CHECK_FALSE(j["1"]["intervals"].contains("challenge_score"));
  std::ostringstream table, err3;
  REQUIRE(ecgssl::cli::run_evaluate({"--checkpoint", model.string(), "--data", labelled.string(), "--leads", "12",
                                     "--split", "test", "--bootstrap", "20"}, table, err3) == 0);
  CHECK_MESSAGE(table.str().find("superclass model") != std::string::npos, table.str());
  CHECK_MESSAGE(table.str().find("lead set      auroc   auprc   accuracy  f_measure\n") != std::string::npos, table.str());
  CHECK(table.str().find("challenge_score") == std::string::npos);

  // A manifest without superclasses, and predict (Challenge outputs) with a superclass model: refused, named.
  std::ostringstream o3, e3;
  CHECK(ecgssl::cli::run_finetune({"--task", "superclass", "--random-init", "--config", f.config.string(), "--data",
                                   plain.string(), "--epochs", "1", "--out", (f.dir / "never.safetensors").string()},
                                  o3, e3) != 0);
  CHECK_MESSAGE(e3.str().find("field 'superclasses'") != std::string::npos, e3.str());
  CHECK_FALSE(std::filesystem::exists(f.dir / "never.safetensors"));
  std::ostringstream o4, e4;
  CHECK(ecgssl::cli::run_predict({"--checkpoint", model.string(), "--out", (f.dir / "never_outputs").string(),
                                  (f.data / (f.records[0] + ".hea")).string()}, o4, e4) != 0);
  CHECK_MESSAGE(e4.str().find("superclass") != std::string::npos, e4.str());
}

// Fine-tuning splits and fine-tuned checkpoints: the split properties of spec §6 checked on a
// synthetic segment set, the checkpoint description round trip, and refusals.
#include <doctest/doctest.h>

#include <ecgssl/pipeline/finetuning/finetune_checkpoint.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <string>

using namespace ecgssl::pipeline;
using ecgssl::data::segment_set;
using ecgssl::model::encoder_config;

namespace {

// 15 records with 1, 2 or 3 segments each (record r has 1 + r % 3), signals unused.
segment_set synthetic_set() {
  segment_set s;
  for (int r = 0; r < 15; ++r) {
    for (int k = 0; k < 1 + r % 3; ++k) {
      s.record_ids.push_back("rec" + std::to_string(r));
      s.identities.push_back(r);
    }
  }
  s.signals = xt::zeros<float>({s.record_ids.size(), std::size_t{12}, std::size_t{4}});
  s.labels = xt::zeros<float>({s.record_ids.size(), std::size_t{26}});
  return s;
}

std::map<std::string, int> segments_per_record(const segment_set& s) {
  std::map<std::string, int> m;
  for (const auto& r : s.record_ids) ++m[r];
  return m;
}

}  // namespace

TEST_CASE("finetune_checkpoint: arrhythmia split keeps every record whole in exactly one part") {
  const auto all = synthetic_set();
  const auto split = split_segments(all, finetune_task::arrhythmia, 0.2, 7);
  CHECK(split.train.size() + split.valid.size() + split.test.size() == all.size());
  const auto whole = segments_per_record(all);
  std::set<std::string> seen;
  for (const auto* part : {&split.train, &split.valid, &split.test}) {
    for (const auto& [record, count] : segments_per_record(*part)) {
      CHECK_MESSAGE(seen.insert(record).second, record);  // in no other part
      CHECK(count == whole.at(record));                  // with all its segments
    }
  }
  CHECK(seen.size() == whole.size());
  CHECK(split.valid.size() > 0);
  CHECK(split.test.size() > 0);
  // The same seed gives the same split; another seed another one.
  CHECK(split_segments(all, finetune_task::arrhythmia, 0.2, 7).test.record_ids == split.test.record_ids);
  CHECK(split_segments(all, finetune_task::arrhythmia, 0.2, 8).test.record_ids != split.test.record_ids);
}

TEST_CASE("finetune_checkpoint: identification holds out whole identities as gallery and probe pairs") {
  const auto all = synthetic_set();
  const auto split = split_segments(all, finetune_task::identification, 0.3, 5);
  REQUIRE(split.valid.size() % 2 == 0);
  REQUIRE(split.valid.size() > 0);
  std::set<std::string> held;
  for (std::size_t i = 0; i < split.valid.size(); i += 2) {
    CHECK(split.valid.record_ids[i] == split.valid.record_ids[i + 1]);  // gallery and probe of one identity
    CHECK(split.valid.identities[i] == static_cast<std::int64_t>(i / 2));
    CHECK(split.valid.identities[i + 1] == static_cast<std::int64_t>(i / 2));
    held.insert(split.valid.record_ids[i]);
  }
  CHECK(held.size() == split.valid.size() / 2);
  CHECK(split.test.record_ids == split.valid.record_ids);
  std::set<std::string> train_records;
  std::set<std::int64_t> train_labels;
  for (std::size_t i = 0; i < split.train.size(); ++i) {
    CHECK(held.count(split.train.record_ids[i]) == 0);
    train_records.insert(split.train.record_ids[i]);
    train_labels.insert(split.train.identities[i]);
  }
  // Training identities are renumbered 0..n-1, one per training record.
  CHECK(split.train_identities == train_records.size());
  CHECK(train_labels.size() == train_records.size());
  CHECK(*train_labels.begin() == 0);
  CHECK(*train_labels.rbegin() == static_cast<std::int64_t>(train_records.size()) - 1);
}

TEST_CASE("finetune_checkpoint: save and load keep the description and every parameter") {
  finetune_model_options mo;
  mo.task = finetune_task::identification;
  mo.classes = 5;
  mo.pretrained = false;
  mo.arcface_scale = 64.0;
  mo.arcface_margin = 0.5;
  mo.encoder = ecgssl::model::tiny_config<float>::options();
  mo.encoder.conv_dim = 16;
  mo.encoder.embed_dim = 16;
  mo.encoder.layers = 1;
  mo.encoder.heads = 2;
  mo.encoder.ffn_dim = 32;
  mo.encoder.pos_kernel = 8;
  mo.encoder.pos_groups = 2;
  mo.encoder = finetuning_encoder_options(mo.encoder, false);
  finetune_model<float> model(mo, 11);
  finetune_checkpoint_info info;
  info.model = mo;
  info.leads = "I,II,V2";
  info.split_seed = 9;
  info.valid_fraction = 0.3;
  const auto path = std::filesystem::temp_directory_path() / "finetuned_roundtrip.safetensors";
  save_finetuned(path, model, info);

  finetune_checkpoint_info back;
  const auto loaded = load_finetuned<float>(path, &back);
  CHECK(back.model.task == finetune_task::identification);
  CHECK(back.model.classes == 5);
  CHECK_FALSE(back.model.pretrained);
  CHECK(back.model.arcface_scale == 64.0);
  CHECK(back.model.arcface_margin == 0.5);
  CHECK(back.model.encoder.pos_kernel == 8);
  CHECK(back.leads == "I,II,V2");
  CHECK(back.split_seed == 9);
  CHECK(back.valid_fraction == 0.3);
  const auto& a = model.store();
  const auto& b = loaded->store();
  REQUIRE(a.size() == b.size());
  const auto va = a.values(), vb = b.values();
  CHECK(std::equal(va.begin(), va.end(), vb.begin(), vb.end()));
}

TEST_CASE("finetune_checkpoint: a checkpoint that is not a fine-tuned model is refused by name") {
  ecgssl::io::checkpoint bare;
  CHECK_THROWS_AS(checkpoint_config(bare, "bare.safetensors"), ecgssl::config_error);
  ecgssl::io::checkpoint pre;
  nlohmann::json j;
  j["model"] = encoder_config::to_json(ecgssl::model::tiny_config<float>::options());
  pre.set_config(j.dump());
  try {
    read_finetune_info(pre, "pre.safetensors");
    FAIL("a pre-trained checkpoint was accepted as fine-tuned");
  } catch (const ecgssl::config_error& e) {
    const std::string what = e.what();
    CHECK(what.find("pre.safetensors") != std::string::npos);
    CHECK(what.find("ecgssl.config.task") != std::string::npos);
  }
  j["task"] = "arrhythmia";  // classes etc. missing
  pre.set_config(j.dump());
  CHECK_THROWS_AS(read_finetune_info(pre, "half.safetensors"), ecgssl::config_error);
}

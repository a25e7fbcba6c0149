// Encoder configurations by name and as JSON (files given to --config, checkpoint metadata).
#include <doctest/doctest.h>

#include <ecgssl/model/encoder_config.hpp>

#include <filesystem>
#include <fstream>
#include <string>

using ecgssl::model::encoder_config;

namespace {

std::filesystem::path write_config(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ecgssl::error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("encoder_config: names resolve to the spec sizes and unknown names are refused") {
  CHECK(encoder_config::resolve("tiny").embed_dim == 128);
  CHECK(encoder_config::resolve("small").ffn_dim == 1024);
  CHECK(encoder_config::resolve("base").embed_dim == 768);
  CHECK_THROWS_AS(encoder_config::named("huge"), ecgssl::config_error);
  CHECK(message_of([] { encoder_config::named("huge"); }).find("tiny, small, base") != std::string::npos);
}

TEST_CASE("encoder_config: a JSON file overrides keys on top of its base") {
  const auto path = write_config("enc_overlay.json", R"({"base": "tiny", "layers": 3, "dropout": 0.25,
                                                         "mode": "layer_norm", "legacy_batch_axis": true})");
  const auto o = encoder_config::resolve(path.string());
  CHECK(o.conv_dim == 128);  // from tiny
  CHECK(o.layers == 3);
  CHECK(o.dropout == 0.25);
  CHECK(o.mode == ecgssl::model::extractor_mode::layer_norm);
  CHECK(o.legacy_batch_axis);
  // Without "base" the overlay applies to base (the paper's model).
  const auto on_base = encoder_config::from_json(nlohmann::json::parse(R"({"layers": 6})"), "inline");
  CHECK(on_base.embed_dim == 768);
  CHECK(on_base.layers == 6);
}

TEST_CASE("encoder_config: to_json and from_json round-trip every option") {
  auto o = encoder_config::named("small");
  o.mode = ecgssl::model::extractor_mode::layer_norm;
  o.mask_prob = 0.5;
  o.latent_vars = 17;
  o.temp_decay = 0.75;
  o.pretraining_heads = false;
  const auto j = encoder_config::to_json(o);
  CHECK(j.at("mode") == "layer_norm");
  CHECK(j.at("latent_vars") == 17);
  const auto back = encoder_config::from_json(j, "round trip");
  CHECK(encoder_config::to_json(back) == j);
}

TEST_CASE("encoder_config: bad files name the file and the key") {
  const auto unknown = write_config("enc_unknown.json", R"({"base": "tiny", "layerz": 3})");
  const auto m1 = message_of([&] { encoder_config::resolve(unknown.string()); });
  CHECK(m1.find("enc_unknown.json") != std::string::npos);
  CHECK(m1.find("layerz") != std::string::npos);

  const auto wrong_type = write_config("enc_type.json", R"({"layers": "many"})");
  const auto m2 = message_of([&] { encoder_config::resolve(wrong_type.string()); });
  CHECK(m2.find("layers") != std::string::npos);
  CHECK(m2.find("wrong type") != std::string::npos);

  const auto heads = write_config("enc_heads.json", R"({"base": "tiny", "heads": 3})");
  CHECK(message_of([&] { encoder_config::resolve(heads.string()); }).find("dividing embed_dim") != std::string::npos);

  const auto mode = write_config("enc_mode.json", R"({"mode": "batch_norm"})");
  CHECK(message_of([&] { encoder_config::resolve(mode.string()); }).find("group_norm_first") != std::string::npos);

  const auto overflow = write_config("enc_overflow.json", R"({"dropout": 1e999999})");  // no double holds it
  CHECK(message_of([&] { encoder_config::resolve(overflow.string()); }).find("enc_overflow.json") != std::string::npos);

  const auto broken = write_config("enc_broken.json", R"({"layers": )");
  CHECK_THROWS_AS(encoder_config::resolve(broken.string()), ecgssl::config_error);
  CHECK_THROWS_AS(encoder_config::resolve("/nonexistent/enc.json"), ecgssl::io_error);
  CHECK_THROWS_AS(encoder_config::from_json(nlohmann::json::array(), "array"), ecgssl::config_error);
}

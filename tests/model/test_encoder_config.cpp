// Encoder configurations by name and as JSON (files given to --config, checkpoint metadata).
#include <doctest/doctest.h>

#include <ecgssl/model/encoder_config.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
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

// The checkpoint contract (docs/checkpoints.md): keys conv_channels, dim, layers, heads, ffn,
// extractor_mode at the top level of "ecgssl.config". The expected options below are written
// out by hand from the contract's table, not derived from the code under test.
TEST_CASE("encoder_config: the contract's top-level keys give the encoder they name") {
  const auto j = nlohmann::json::parse(R"({"conv_channels": 32, "dim": 48, "layers": 3, "heads": 6, "ffn": 96,
      "extractor_mode": "layer_norm", "final_dim": 16, "latent_vars": 8, "latent_groups": 2, "method": "pytorch"})");
  const auto o = encoder_config::from_checkpoint_config(j, "ck.safetensors");
  CHECK(o.conv_dim == 32);
  CHECK(o.embed_dim == 48);
  CHECK(o.layers == 3);
  CHECK(o.heads == 6);
  CHECK(o.ffn_dim == 96);
  CHECK(o.mode == ecgssl::model::extractor_mode::layer_norm);
  CHECK(o.final_dim == 16);
  CHECK(o.latent_vars == 8);
  // what the contract leaves out is the paper's base configuration (spec §3)
  CHECK(o.pos_kernel == 128);
  CHECK(o.pos_groups == 16);
  CHECK(o.conv_layers == 4);
  CHECK(o.mask_prob == 0.65);

  auto group_norm = j;
  group_norm["extractor_mode"] = "default";
  CHECK(encoder_config::from_checkpoint_config(group_norm, "ck").mode == ecgssl::model::extractor_mode::group_norm_first);
  auto with_encoder = j;
  with_encoder["encoder"] = {{"pos_kernel", 64}, {"layer_norm_first", true}};
  const auto e = encoder_config::from_checkpoint_config(with_encoder, "ck");
  CHECK(e.pos_kernel == 64);
  CHECK(e.layer_norm_first);
}

TEST_CASE("encoder_config: the canonical form written reads back, and the 0.1 form still loads") {
  auto options = encoder_config::named("small");
  options.pos_kernel = 96;
  options.mode = ecgssl::model::extractor_mode::layer_norm;
  nlohmann::json whole{{"method", "w2v_cmsc_rlm"}};
  encoder_config::write_checkpoint_config(whole, options);
  CHECK(whole.at("conv_channels") == 256);
  CHECK(whole.at("dim") == 256);
  CHECK(whole.at("ffn") == 1024);
  CHECK(whole.at("extractor_mode") == "layer_norm");
  CHECK(whole.at("encoder").at("pos_kernel") == 96);
  CHECK_FALSE(whole.at("encoder").contains("embed_dim"));
  CHECK_FALSE(whole.contains("model"));
  CHECK(encoder_config::to_json(encoder_config::from_checkpoint_config(whole, "ck")) == encoder_config::to_json(options));

  const nlohmann::json legacy{{"model", {{"base", "tiny"}, {"embed_dim", 32}}}, {"method", "w2v"}};
  const auto l = encoder_config::from_checkpoint_config(legacy, "old.safetensors");
  CHECK(l.embed_dim == 32);
  CHECK(l.conv_dim == 128);
}

TEST_CASE("encoder_config: a configuration in neither form says which keys it expected") {
  const auto none = message_of([] { encoder_config::from_checkpoint_config(nlohmann::json{{"method", "w2v"}}, "x.safetensors"); });
  CHECK(none.find("x.safetensors") != std::string::npos);
  CHECK(none.find("no model configuration") != std::string::npos);
  CHECK(none.find("conv_channels, dim, layers, heads, ffn, extractor_mode") != std::string::npos);

  const auto partial = message_of([] {
    encoder_config::from_checkpoint_config(nlohmann::json::parse(R"({"dim": 32, "layers": 2, "heads": 4})"), "x");
  });
  CHECK(partial.find("missing conv_channels, ffn, extractor_mode") != std::string::npos);

  const auto both = message_of([] {
    encoder_config::from_checkpoint_config(
        nlohmann::json::parse(R"({"model": {"base": "tiny"}, "conv_channels": 32, "dim": 32, "layers": 2, "heads": 4,
                                  "ffn": 64, "extractor_mode": "default"})"),
        "x");
  });
  CHECK(both.find("both") != std::string::npos);

  const auto full = nlohmann::json::parse(
      R"({"conv_channels": 32, "dim": 32, "layers": 2, "heads": 4, "ffn": 64, "extractor_mode": "default"})");
  auto bad_mode = full;
  bad_mode["extractor_mode"] = "group_norm";
  CHECK(message_of([&] { encoder_config::from_checkpoint_config(bad_mode, "x"); }).find("extractor_mode") != std::string::npos);
  auto twice = full;
  twice["encoder"] = {{"embed_dim", 64}};
  CHECK(message_of([&] { encoder_config::from_checkpoint_config(twice, "x"); }).find("encoder.embed_dim") != std::string::npos);
  auto unknown = full;
  unknown["encoder"] = {{"hidden", 3}};
  CHECK(message_of([&] { encoder_config::from_checkpoint_config(unknown, "x"); }).find("hidden") != std::string::npos);
  auto wrong_type = full;
  wrong_type["dim"] = "wide";
  CHECK(message_of([&] { encoder_config::from_checkpoint_config(wrong_type, "x"); }).find("embed_dim") != std::string::npos);
  auto indivisible = full;
  indivisible["heads"] = 5;
  CHECK(message_of([&] { encoder_config::from_checkpoint_config(indivisible, "x"); }).find("heads") != std::string::npos);
}

TEST_CASE("encoder_config: a --config file may use the contract's keys") {
  const auto path = write_config("ecgssl_contract_config.json",
                                 R"({"conv_channels": 64, "dim": 64, "layers": 1, "heads": 2, "ffn": 128, "extractor_mode": "default"})");
  const auto o = encoder_config::resolve(path.string());
  CHECK(o.embed_dim == 64);
  CHECK(o.layers == 1);
  std::filesystem::remove(path);
}

// Issue 19: sizes from a file are checked before anything is allocated.
TEST_CASE("encoder_config: absurd sizes are refused by key, and so is a model this machine cannot train") {
  const auto full = nlohmann::json::parse(
      R"({"conv_channels": 32, "dim": 32, "layers": 2, "heads": 4, "ffn": 64, "extractor_mode": "default"})");
  auto deep = full;
  deep["layers"] = 100000000;
  CHECK(message_of([&] { encoder_config::from_checkpoint_config(deep, "x"); }).find("layers") != std::string::npos);
  auto wide = full;
  wide["dim"] = 1000000;
  wide["heads"] = 1;
  CHECK(message_of([&] { encoder_config::from_checkpoint_config(wide, "x"); }).find("embed_dim") != std::string::npos);
  auto huge = full;  // every size within its own limit, together about 10^12 parameters
  huge["dim"] = 8192;
  huge["heads"] = 64;
  huge["ffn"] = 65536;
  huge["layers"] = 256;
  const auto too_big = message_of([&] { encoder_config::from_checkpoint_config(huge, "x"); });
  CHECK(too_big.find("model size") != std::string::npos);
  CHECK(too_big.find("MiB") != std::string::npos);
  auto odd_groups = full;
  odd_groups["encoder"] = {{"pos_groups", 3}};
  CHECK(message_of([&] { encoder_config::from_checkpoint_config(odd_groups, "x"); }).find("pos_groups") != std::string::npos);
  CHECK(message_of([] { encoder_config::from_json(nlohmann::json{{"base", 5}}, "x"); }).find("base") != std::string::npos);
  // the paper's base model is about 90.9 M parameters with its pre-training heads (spec §3.11)
  CHECK(encoder_config::estimated_parameters(encoder_config::named("base")) == doctest::Approx(90.9e6).epsilon(0.01));
}

// Found by fuzz_checkpoint_config: nlohmann's get<size_t> of 2.8e65 is undefined behaviour, and
// of -5 wraps. Values are converted only where the conversion is exact.
TEST_CASE("encoder_config: numbers that do not fit a field are refused, naming the key") {
  const auto full = nlohmann::json::parse(
      R"({"conv_channels": 32, "dim": 32, "layers": 2, "heads": 4, "ffn": 64, "extractor_mode": "default"})");
  for (const char* bad : {"277777777777777777777777777777777777777777777777777777777777777777", "-5", "2.5", "true", "\"2\""}) {
    CAPTURE(bad);
    auto j = full;
    j["layers"] = nlohmann::json::parse(bad);
    const auto e = message_of([&] { encoder_config::from_checkpoint_config(j, "x"); });
    CHECK(e.find("layers") != std::string::npos);
    CHECK(e.find("a whole number") != std::string::npos);
  }
  auto nan_dropout = full;
  nan_dropout["encoder"] = {{"dropout", "0.1"}};
  CHECK(message_of([&] { encoder_config::from_checkpoint_config(nan_dropout, "x"); }).find("a finite number") != std::string::npos);
  auto flag = full;
  flag["encoder"] = {{"layer_norm_first", 1}};
  CHECK(message_of([&] { encoder_config::from_checkpoint_config(flag, "x"); }).find("true or false") != std::string::npos);
  auto integral_double = full;
  integral_double["encoder"] = {{"dropout", 0}};  // an integer is a fine double
  CHECK(encoder_config::from_checkpoint_config(integral_double, "x").dropout == 0.0);
}

#include <ecgssl/io/checkpoint.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

using ecgssl::io_error;
using ecgssl::parameter_store;
using ecgssl::io::checkpoint;

namespace {

const std::vector<float> w_values{0.5f, -1.25f, 2.0f, 3.5f, -4.75f, 0.125f};
const std::vector<float> b_values{0.1f, -2.5f};
const std::vector<float> moment_values{-0.5f, 0.25f, 1, 2, 3, 4, 5, 6};  // store order: b then w
const std::string config_text = R"({"model":"w2v_cmsc_rlm","dim":4,"note":"a \"quoted\" word"})";

template <class T>
void declare(parameter_store<T>& store) {
  store.add("b", {2});
  store.add("w", {2, 3});
  store.allocate();
}

// The checkpoint tools/make_checkpoint_fixtures.py also writes with the reference package.
checkpoint reference_checkpoint() {
  parameter_store<float> store;
  declare(store);
  std::copy(b_values.begin(), b_values.end(), store.values("b").begin());
  std::copy(w_values.begin(), w_values.end(), store.values("w").begin());
  checkpoint ckpt;
  ckpt.add_parameters(store);
  ckpt.add_buffer<float>(store, moment_values, "optimizer.exp_avg.");
  ckpt.add_scalar("trainer.step", 1234);
  ckpt.add_scalar("trainer.seed", -42);
  ckpt.set_config(config_text);
  return ckpt;
}

std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

// A checkpoint with tensors a, b (shape [2]) and c (shape [3]) for the strictness tests.
checkpoint abc_checkpoint() {
  checkpoint ckpt;
  const std::vector<double> two{1, 2};
  const std::vector<double> three{3, 4, 5};
  ckpt.add_tensor<double>("a", {2}, two);
  ckpt.add_tensor<double>("b", {2}, two);
  ckpt.add_tensor<double>("c", {3}, three);
  ckpt.add_tensor<double>("head.w", {2}, two);
  ckpt.add_scalar("trainer.step", 5);
  return ckpt;
}

}  // namespace

TEST_CASE("checkpoint bytes equal the reference writer's") {
  const auto ckpt = reference_checkpoint();
  const auto expected = read_bytes(std::string(ECGSSL_TEST_DATA_DIR) + "/io/checkpoints/python_same_as_cpp.safetensors");
  REQUIRE(!expected.empty());
  CHECK(ckpt.file().serialize() == expected);

  // Left behind for `tools/make_checkpoint_fixtures.py --read /tmp/ecgssl_cpp_written.safetensors`.
  const std::string written = (std::filesystem::temp_directory_path() / "ecgssl_cpp_written.safetensors").string();
  ckpt.save(written);
  CHECK(read_bytes(written) == expected);
}

TEST_CASE("checkpoint round trip restores parameters, optimizer state, trainer scalars and config") {
  const auto path = std::filesystem::temp_directory_path() / ("ecgssl_roundtrip_" + std::to_string(::getpid()) + ".safetensors");
  reference_checkpoint().save(path);
  const auto loaded = checkpoint::load(path);
  std::filesystem::remove(path);

  parameter_store<double> store;  // F32 file into a double model: widening is exact
  declare(store);
  const auto report = loaded.load_parameters(store);
  CHECK(report.loaded.size() == 2);
  CHECK(report.missing.empty());
  CHECK(report.unexpected.empty());
  for (std::size_t i = 0; i < w_values.size(); ++i) CHECK(store.values("w")[i] == double(w_values[i]));
  for (std::size_t i = 0; i < b_values.size(); ++i) CHECK(store.values("b")[i] == double(b_values[i]));

  std::vector<double> moment(store.size());
  loaded.load_buffer<double>(store, moment, "optimizer.exp_avg.");
  for (std::size_t i = 0; i < moment.size(); ++i) CHECK(moment[i] == double(moment_values[i]));

  CHECK(loaded.scalar("trainer.step") == 1234);
  CHECK(loaded.scalar("trainer.seed") == -42);
  CHECK(loaded.config().value() == config_text);
  CHECK_THROWS_AS(checkpoint().set_config("{not json"), ecgssl::config_error);
}

TEST_CASE("strict loading lists every missing, unexpected and mis-shaped tensor and changes nothing") {
  const auto ckpt = abc_checkpoint();
  parameter_store<float> store;
  store.add("a", {2});
  store.add("c", {2, 2});  // file has [3]
  store.add("d", {1});     // not in the file
  store.add("e", {1});     // not in the file
  store.allocate();
  store.values("a")[0] = 9.0f;
  try {
    (void)ckpt.load_parameters(store);
    FAIL("expected io_error");
  } catch (const io_error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("2 missing from the file: d, e") != std::string::npos);
    CHECK(message.find("2 unexpected in the file: b, head.w") != std::string::npos);
    CHECK(message.find("1 with the wrong shape: c [3] (model [2, 2])") != std::string::npos);
    CHECK(message.find("trainer.step") == std::string::npos);  // trainer state is not a parameter
  }
  CHECK(store.values("a")[0] == 9.0f);  // validation happens before any copy
}

TEST_CASE("non-strict loading and skip prefixes report what was dropped") {
  const auto ckpt = abc_checkpoint();
  parameter_store<float> store;
  store.add("a", {2});
  store.add("c", {3});
  store.add("new_head.w", {1});
  store.allocate();
  store.values("new_head.w")[0] = 7.0f;

  checkpoint::load_options options;
  options.strict = false;
  options.skip_prefixes = {"head."};
  const auto report = ckpt.load_parameters(store, options);
  CHECK(report.loaded == std::vector<std::string>{"a", "c"});
  CHECK(report.skipped == std::vector<std::string>{"head.w"});
  CHECK(report.unexpected == std::vector<std::string>{"b"});
  CHECK(report.missing == std::vector<std::string>{"new_head.w"});
  CHECK(store.values("c")[2] == 5.0f);
  CHECK(store.values("new_head.w")[0] == 7.0f);

  // Strict with the heads dropped and the new head optional: only "b" is still unexpected.
  checkpoint::load_options strict;
  strict.skip_prefixes = {"head.", "b"};
  strict.optional_prefixes = {"new_head."};
  const auto strict_report = ckpt.load_parameters(store, strict);
  CHECK(strict_report.skipped == std::vector<std::string>{"b", "head.w"});
  CHECK(strict_report.missing == std::vector<std::string>{"new_head.w"});

  // A wrong shape is an error even when not strict.
  parameter_store<float> wrong;
  wrong.add("a", {3});
  wrong.allocate();
  CHECK_THROWS_AS((void)ckpt.load_parameters(wrong, options), io_error);
}

TEST_CASE("checkpoint refuses integer tensors as parameters and non-scalar scalars") {
  checkpoint ckpt;
  const std::vector<std::int64_t> ints{1, 2};
  ckpt.add_tensor<std::int64_t>("a", {2}, ints);
  parameter_store<float> store;
  store.add("a", {2});
  store.allocate();
  CHECK_THROWS_AS((void)ckpt.load_parameters(store), io_error);
  CHECK_THROWS_AS((void)ckpt.scalar("a"), io_error);
  std::vector<float> out(2);
  const std::vector<std::size_t> shape{3};
  CHECK_THROWS_AS(ckpt.read_tensor<float>("a", shape, out), io_error);
}

// Tests of app/embed.hpp through run_embed (checkpoint made by run_pretrain on real records).
#include "commands.hpp"
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/npy.hpp"

#include <cstdint>
#include <cstring>
#include <iterator>

#include <nlohmann/json.hpp>

namespace {

const std::string records = std::string(ECGSSL_TEST_DATA_DIR) + "/records/challenge";

std::filesystem::path scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "ecgssl_test_cli_embed";
  std::filesystem::create_directories(dir);
  return dir / name;
}

int call(int (*run)(const std::vector<std::string>&, std::ostream&, std::ostream&), std::vector<std::string> args,
         std::string* err_text = nullptr) {
  std::ostringstream out, err;
  const int code = run(args, out, err);
  if (err_text) *err_text = err.str();
  return code;
}

std::vector<std::vector<std::string>> read_csv(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    for (std::string c; std::getline(s, c, ',');) cells.push_back(c);
    rows.push_back(cells);
  }
  return rows;
}

const std::filesystem::path& checkpoint() {
  static const std::filesystem::path ck = [] {
    const auto p = scratch("tiny.safetensors");
    std::string err;
    const int code = call(ecgssl::cli::run_pretrain, {"--data", records, "--steps", "1", "--batch-pairs", "1",
                                                      "--out", p.string(), "--threads", "1"}, &err);
    REQUIRE_MESSAGE(code == 0, err);
    return p;
  }();
  return ck;
}

}  // namespace

TEST_CASE("embed: one row per 5 s segment, record pooling is their mean, npy holds the same numbers") {
  const std::string a = records + "/A0001.hea", e = records + "/E00001";  // 15 s and 10 s
  const auto csv = scratch("seg.csv"), rec = scratch("rec.csv"), npy = scratch("seg.npy");
  std::string err;
  REQUIRE_MESSAGE(call(ecgssl::cli::run_embed, {"--checkpoint", checkpoint().string(), "--out", csv.string(), a, e}, &err) == 0, err);
  const auto rows = read_csv(csv);
  REQUIRE(rows.size() == 1 + 3 + 2);
  CHECK(rows[0].size() == 2 + 128);  // tiny: D = 128
  CHECK(rows[1][0] == "A0001");
  CHECK(rows[3][1] == "2");
  CHECK(rows[4][0] == "E00001");

  REQUIRE(call(ecgssl::cli::run_embed, {"--checkpoint", checkpoint().string(), "--pool", "record", "--out", rec.string(), a, e}) == 0);
  const auto pooled = read_csv(rec);
  REQUIRE(pooled.size() == 3);
  CHECK(pooled[1][1] == "all");
  for (std::size_t d = 2; d < 130; ++d) {
    const double mean = (std::stod(rows[1][d]) + std::stod(rows[2][d]) + std::stod(rows[3][d])) / 3.0;
    CHECK(std::stod(pooled[1][d]) == doctest::Approx(mean).epsilon(1e-5));
  }

  REQUIRE(call(ecgssl::cli::run_embed, {"--checkpoint", checkpoint().string(), "--out", npy.string(), a, e}) == 0);
  const auto array = ecgssl::testing::read_npy(npy.string());
  REQUIRE(array.shape.size() == 2);
  CHECK(array.shape[0] == 5);
  CHECK(array.shape[1] == 128);
  CHECK(array.values[4 * 128 + 7] == doctest::Approx(std::stod(rows[5][9])).epsilon(1e-6));
}

TEST_CASE("embed: eval mode is deterministic, and --leads zero-fills the other leads") {
  const std::string a = records + "/A0001.hea";
  const auto one = scratch("one.csv"), two = scratch("two.csv"), lead1 = scratch("lead1.csv");
  REQUIRE(call(ecgssl::cli::run_embed, {"--checkpoint", checkpoint().string(), "--out", one.string(), a}) == 0);
  REQUIRE(call(ecgssl::cli::run_embed, {"--checkpoint", checkpoint().string(), "--out", two.string(), a}) == 0);
  CHECK(read_csv(one) == read_csv(two));
  REQUIRE(call(ecgssl::cli::run_embed, {"--checkpoint", checkpoint().string(), "--leads", "1", "--out", lead1.string(), a}) == 0);
  CHECK(read_csv(lead1)[1] != read_csv(one)[1]);
}

TEST_CASE("embed: a checkpoint that does not match the configuration, or a bad record, writes nothing") {
  const auto out = scratch("never.csv");
  std::filesystem::remove(out);
  std::string err;
  CHECK(call(ecgssl::cli::run_embed, {"--checkpoint", checkpoint().string(), "--config", "small", "--out", out.string(),
                                      records + "/A0001.hea"}, &err) == 1);
  CHECK(err.find("does not match the model") != std::string::npos);
  CHECK(call(ecgssl::cli::run_embed, {"--checkpoint", checkpoint().string(), "--out", out.string(),
                                      records + "/NOPE.hea"}, &err) == 1);
  CHECK(err.find("NOPE") != std::string::npos);
  CHECK(call(ecgssl::cli::run_embed, {"--checkpoint", checkpoint().string(), "--out", scratch("x.txt").string(),
                                      records + "/A0001.hea"}, &err) == 1);
  CHECK(!std::filesystem::exists(out));
}

TEST_CASE("embed: a checkpoint written by PyTorch gives PyTorch's embedding of the record") {
  // tools/make_torch_checkpoint_fixture.py: a 32-wide encoder built in PyTorch, its state dict as
  // safetensors with ecgssl.config, and its float64 eval-mode embedding of E00001's two segments.
  const std::string dir = std::string(ECGSSL_TEST_DATA_DIR) + "/io/torch_checkpoint/";
  const auto npy = scratch("torch.npy");
  std::string err;
  REQUIRE_MESSAGE(call(ecgssl::cli::run_embed, {"--checkpoint", dir + "encoder.safetensors", "--out", npy.string(),
                                                records + "/E00001", "--threads", "1"}, &err) == 0, err);
  const auto got = ecgssl::testing::read_npy(npy.string());
  const auto expected = ecgssl::testing::read_npy(dir + "embedding.npy");
  REQUIRE(got.shape == expected.shape);
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, std::abs(got.values[i] - expected.values[i]));
    scale = std::max(scale, std::abs(expected.values[i]));
  }
  CHECK(scale > 0.1);
  CHECK(worst < 1e-5 * scale);
}

// Issue 19: outputs are never non-finite. A corrupt checkpoint weight is refused when the
// checkpoint is loaded, naming the tensor; a header gain so small that the samples overflow
// float is refused by the output check, naming the record; nothing is written in either case.
TEST_CASE("embed: a NaN weight in the checkpoint is refused, naming the tensor; no output is written") {
  std::ifstream in(checkpoint(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, header_length));
  std::string name;
  std::size_t begin = 0;
  for (const auto& [key, value] : header.items()) {
    if (key != "__metadata__" && value.at("dtype") == "F32" && key.rfind("optimizer", 0) != 0) {
      name = key;
      begin = value.at("data_offsets")[0].get<std::size_t>();
      break;
    }
  }
  REQUIRE(!name.empty());
  const float nan = std::nanf("");
  std::memcpy(bytes.data() + 8 + header_length + begin, &nan, sizeof nan);
  const auto corrupt = scratch("nan_weight.safetensors");
  std::ofstream(corrupt, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  const auto out = scratch("nan_weight.csv");
  std::filesystem::remove(out);
  std::string err;
  CHECK(call(ecgssl::cli::run_embed, {"--checkpoint", corrupt.string(), "--out", out.string(), records + "/A0001"}, &err) == 1);
  CHECK(err.find(name + "[0]") != std::string::npos);
  CHECK(err.find("NaN") != std::string::npos);
  CHECK(!std::filesystem::exists(out));
}

// A gain of 1e-300 is refused by the header reader (tests/io/test_corrupted_inputs.cpp); 1e-35 passes
// it (its values fit a double) but not float32, so this case reaches the check on the outputs.
TEST_CASE("embed: a record whose gain makes its samples overflow is refused, naming it; no output is written") {
  const auto dir = scratch("tiny_gain");
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(records + "/A0001.mat", dir / "A0001.mat", std::filesystem::copy_options::overwrite_existing);
  std::ifstream in(records + "/A0001.hea");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t at = text.find("1000/mV"); at != std::string::npos; at = text.find("1000/mV")) text.replace(at, 7, "1e-35/mV");
  std::ofstream(dir / "A0001.hea") << text;
  const auto out = scratch("tiny_gain.csv");
  std::filesystem::remove(out);
  std::string err;
  CHECK(call(ecgssl::cli::run_embed, {"--checkpoint", checkpoint().string(), "--out", out.string(), (dir / "A0001").string()},
             &err) == 1);
  CHECK(err.find("A0001") != std::string::npos);
  CHECK(err.find("not finite") != std::string::npos);
  CHECK(!std::filesystem::exists(out));
}

// Issue 20: `embed --stream` reads a record in chunks and embeds windows every --hop-s seconds.
TEST_CASE("embed --stream: windows every hop, the windows at whole segments equal embed's segments") {
  const std::string ptbxl = std::string(ECGSSL_TEST_DATA_DIR) + "/records/ptbxl/00001_hr";
  const std::string encoder = std::string(ECGSSL_TEST_DATA_DIR) + "/io/torch_checkpoint/encoder.safetensors";
  const auto whole = scratch("whole.csv");
  const auto streamed = scratch("streamed.csv");
  std::string err;
  REQUIRE_MESSAGE(call(ecgssl::cli::run_embed, {"--checkpoint", encoder, "--out", whole.string(), ptbxl, "--threads", "1"}, &err) == 0, err);
  REQUIRE_MESSAGE(call(ecgssl::cli::run_embed, {"--checkpoint", encoder, "--out", streamed.string(), ptbxl, "--threads", "1",
                                                "--stream", "--hop-s", "2.5", "--batch", "2"}, &err) == 0, err);
  const auto segments = read_csv(whole);
  const auto windows = read_csv(streamed);
  REQUIRE(segments.size() == 3);  // header + two 5 s segments of the 10 s record
  REQUIRE(windows.size() == 4);   // header + windows at 0, 2.5 and 5 s
  CHECK(windows[0][0] == "record");
  CHECK(windows[0][1] == "window");
  CHECK(windows[0][2] == "start_s");
  CHECK(windows[0].size() == 3 + 32);
  CHECK(windows[1][2] == "0");
  CHECK(windows[2][2] == "2.5");
  CHECK(windows[3][2] == "5");
  for (const auto& [window, segment] : {std::pair{1, 1}, std::pair{3, 2}}) {
    for (std::size_t d = 0; d < 32; ++d) {
      CHECK(std::stod(windows[window][3 + d]) == doctest::Approx(std::stod(segments[segment][2 + d])).epsilon(1e-5));
    }
  }

  std::ostringstream out, err_stream;
  REQUIRE(ecgssl::cli::run_embed({"--checkpoint", encoder, "--out", "-", ptbxl, "--stream", "--hop-s", "5"}, out, err_stream) == 0);
  const std::string printed = out.str();
  CHECK(std::count(printed.begin(), printed.end(), '\n') == 3);
  CHECK(err_stream.str().find("2 windows of 32 values") != std::string::npos);
}

TEST_CASE("embed --stream: what cannot stream is refused before anything is written") {
  const std::string encoder = std::string(ECGSSL_TEST_DATA_DIR) + "/io/torch_checkpoint/encoder.safetensors";
  const std::string ptbxl = std::string(ECGSSL_TEST_DATA_DIR) + "/records/ptbxl/00001_hr";
  const auto out = scratch("refused_stream.csv");
  std::filesystem::remove(out);
  std::string err;
  // a Challenge .mat record, after a good one: nothing is encoded
  CHECK(call(ecgssl::cli::run_embed, {"--checkpoint", encoder, "--out", out.string(), "--stream", ptbxl, records + "/A0001"}, &err) == 1);
  CHECK(err.find("A0001.hea") != std::string::npos);
  CHECK(err.find(".mat") != std::string::npos);
  CHECK(call(ecgssl::cli::run_embed, {"--checkpoint", encoder, "--out", scratch("x.npy").string(), "--stream", ptbxl}, &err) == 1);
  CHECK(err.find("--stream") != std::string::npos);
  CHECK(call(ecgssl::cli::run_embed, {"--checkpoint", encoder, "--out", out.string(), "--stream", "--hop-s", "0.0001", ptbxl}, &err) == 1);
  CHECK(err.find("--hop-s") != std::string::npos);
  CHECK(call(ecgssl::cli::run_embed, {"--checkpoint", encoder, "--out", out.string(), "--stream", "--pool", "record", ptbxl}, &err) == 1);
  CHECK(err.find("--pool") != std::string::npos);
  CHECK(!std::filesystem::exists(out));
}

#include <ecgssl/io/safetensors.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

using ecgssl::io_error;
using ecgssl::io::safetensors;
using dtype = safetensors::dtype;

namespace {

std::vector<std::byte> bytes_of(std::initializer_list<unsigned> values) {
  std::vector<std::byte> out;
  for (auto v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

// A file image built by hand: declared header length (default: the header's size), header text,
// data bytes.
std::vector<std::byte> make_file(const std::string& header, std::size_t data_bytes,
                                 std::optional<std::uint64_t> declared = std::nullopt, unsigned fill = 0) {
  const std::uint64_t n = declared.value_or(header.size());
  std::vector<std::byte> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((n >> (8 * i)) & 0xff));
  for (char c : header) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), data_bytes, static_cast<std::byte>(fill));
  return out;
}

std::optional<io_error> parse_error(const std::vector<std::byte>& bytes) {
  try {
    (void)safetensors::parse(bytes, "corrupt.safetensors");
  } catch (const io_error& e) {
    return e;
  }
  return std::nullopt;
}

void check_rejected(const std::vector<std::byte>& bytes, const std::string& field) {
  const auto e = parse_error(bytes);
  REQUIRE_MESSAGE(e.has_value(), "expected an io_error for field " << field);
  CHECK(e->where().file == "corrupt.safetensors");
  CHECK(e->where().field == field);
  const std::string message = e->what();
  CHECK(message.find("corrupt.safetensors") != std::string::npos);
  CHECK(message.find("'" + field + "'") != std::string::npos);
}

}  // namespace

TEST_CASE("safetensors header and data bytes match a hand-computed layout") {
  safetensors file;
  const std::vector<float> w{0.5f, -1.25f, 2.0f, 3.5f, -4.75f, 0.125f};
  const std::vector<double> b{0.1, -2.5};
  file.add<float>("w", {2, 3}, w);
  file.add<double>("b", {2}, b);
  file.add_scalar<std::int64_t>("step", 7);
  file.set_metadata("ecgssl.config", R"({"dim":4})");

  // Reference writer order: dtype I64 > F64 > F32, offsets back to back from 0.
  const std::string json =
      R"({"__metadata__":{"ecgssl.config":"{\"dim\":4}"},)"
      R"("step":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F64","shape":[2],"data_offsets":[8,24]},)"
      R"("w":{"dtype":"F32","shape":[2,3],"data_offsets":[24,48]}})";
  const std::string padded = json + std::string((8 - json.size() % 8) % 8, ' ');
  CHECK(padded.size() % 8 == 0);
  CHECK(file.header() == padded);

  const auto image = file.serialize();
  REQUIRE(image.size() == 8 + padded.size() + 48);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<unsigned>(image[i]);
  CHECK(n == padded.size());
  CHECK(std::memcmp(image.data() + 8, padded.data(), padded.size()) == 0);
  const auto expected_data = bytes_of({
      0x07, 0, 0, 0, 0, 0, 0, 0,                           // step = 7
      0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f,      // 0.1 = 0x3FB999999999999A
      0, 0, 0, 0, 0, 0, 0x04, 0xc0,                        // -2.5 = 0xC004000000000000
      0, 0, 0, 0x3f, 0, 0, 0xa0, 0xbf, 0, 0, 0, 0x40,      // 0.5, -1.25, 2
      0, 0, 0x60, 0x40, 0, 0, 0x98, 0xc0, 0, 0, 0, 0x3e,   // 3.5, -4.75, 0.125
  });
  CHECK(std::equal(expected_data.begin(), expected_data.end(), image.begin() + 8 + static_cast<std::ptrdiff_t>(padded.size())));

  const auto back = safetensors::parse(image, "roundtrip");
  CHECK(back.size() == 3);
  CHECK(back.names() == std::vector<std::string>{"step", "b", "w"});
  CHECK(back.values<float>("w") == w);
  CHECK(back.values<double>("b") == b);
  CHECK(back.values<std::int64_t>("step") == std::vector<std::int64_t>{7});
  CHECK(back.tensor("step").shape.empty());
  CHECK(back.tensor("w").type == dtype::f32);
  CHECK(back.metadata("ecgssl.config").value() == R"({"dim":4})");
  CHECK_FALSE(back.metadata("absent").has_value());
  CHECK(back.serialize() == image);
}

TEST_CASE("safetensors reads every dtype of a file the reference Python package wrote") {
  const auto file = safetensors::load(std::string(ECGSSL_TEST_DATA_DIR) + "/io/checkpoints/python_written.safetensors");
  CHECK(file.size() == 10);

  CHECK(file.tensor("f32").type == dtype::f32);
  CHECK(file.values<float>("f32") == std::vector<float>{1.5f, -2.25f, 1024.0f, 0.1f});
  CHECK(std::vector<std::size_t>(file.tensor("f32").shape.begin(), file.tensor("f32").shape.end()) ==
        std::vector<std::size_t>{2, 2});
  CHECK(file.values<double>("f64") == std::vector<double>{0.1, -1e300, 2.5});
  CHECK(file.tensor("f16").type == dtype::f16);
  CHECK(file.values<double>("f16") ==
        std::vector<double>{0.5, -2.0, 65504.0, std::ldexp(1.0, -14), std::ldexp(1.0, -24)});
  CHECK(file.tensor("bf16").type == dtype::bf16);
  CHECK(file.values<float>("bf16") == std::vector<float>{1.5f, -3.140625f});
  CHECK(file.values<std::int64_t>("i64") ==
        std::vector<std::int64_t>{-(std::int64_t(1) << 40), 0, 1, std::int64_t(1) << 62});
  CHECK(file.values<std::int32_t>("i32") == std::vector<std::int32_t>{-7, 0, 2147483647});
  CHECK(file.values<int>("u8") == std::vector<int>{0, 1, 128, 255});
  CHECK(file.tensor("bool").type == dtype::boolean);
  CHECK(file.values<std::uint8_t>("bool") == std::vector<std::uint8_t>{1, 0, 1});
  CHECK(file.values<std::int64_t>("scalar") == std::vector<std::int64_t>{42});
  CHECK(file.tensor("empty").element_count == 0);
  CHECK(file.tensor("empty").shape.size() == 2);
  CHECK(file.metadata("ecgssl.config").value() == R"({"model": "w2v_cmsc_rlm", "dim": 768})");
  CHECK(file.metadata("format").value() == "np");
}

TEST_CASE("safetensors converts half and bfloat16 bit patterns exactly") {
  CHECK(safetensors::half_to_float(0x3c00) == 1.0f);
  CHECK(safetensors::half_to_float(0xc000) == -2.0f);
  CHECK(safetensors::half_to_float(0x7bff) == 65504.0f);
  CHECK(safetensors::half_to_float(0x0400) == std::ldexp(1.0f, -14));
  CHECK(safetensors::half_to_float(0x03ff) == std::ldexp(1023.0f, -24));
  CHECK(safetensors::half_to_float(0x8001) == -std::ldexp(1.0f, -24));
  CHECK(safetensors::half_to_float(0x7c00) == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(safetensors::half_to_float(0x7e00)));
  CHECK(std::signbit(safetensors::half_to_float(0x8000)));
  CHECK(safetensors::bfloat16_to_float(0x3f80) == 1.0f);
  CHECK(safetensors::bfloat16_to_float(0xc049) == -3.140625f);
}

TEST_CASE("safetensors rejects corrupt files naming the file and the field") {
  const std::string one_f32 = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  CHECK_FALSE(parse_error(make_file(one_f32, 4)).has_value());  // the baseline is valid

  SUBCASE("shorter than the length prefix") { check_rejected(bytes_of({1, 0, 0}), "header length"); }
  SUBCASE("header length beyond the file") { check_rejected(make_file(one_f32, 4, 4000), "header length"); }
  SUBCASE("header length beyond the format's limit") {
    check_rejected(make_file(one_f32, 4, std::uint64_t(1) << 40), "header length");
  }
  SUBCASE("bad JSON") { check_rejected(make_file(R"({"a":{"dtype":"F32",)", 4), "header"); }
  SUBCASE("header not an object") { check_rejected(make_file("[1,2]   ", 0), "header"); }
  SUBCASE("a number no JSON type can hold (fuzz_safetensors finding)") {
    check_rejected(make_file(R"({"a":{"dtype":"U8","shape":[5333e0000000000393557286],"data_offsets":[0,1]}})", 1),
                   "header");
  }
  SUBCASE("unknown dtype") {
    check_rejected(make_file(R"({"a":{"dtype":"F128","shape":[1],"data_offsets":[0,4]}})", 4), "a.dtype");
  }
  SUBCASE("missing dtype") { check_rejected(make_file(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4), "a.dtype"); }
  SUBCASE("negative extent") {
    check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "a.shape");
  }
  SUBCASE("shape does not match the offsets") {
    check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}})", 4), "a.shape");
  }
  SUBCASE("offsets beyond the data") {
    check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "a.data_offsets");
  }
  SUBCASE("offsets reversed") {
    check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4), "a.data_offsets");
  }
  SUBCASE("offsets missing") { check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1]}})", 4), "a.data_offsets"); }
  SUBCASE("overlapping tensors") {
    const auto bytes = make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                 12);
    check_rejected(bytes, "b.data_offsets");
    CHECK(std::string(parse_error(bytes)->what()).find("overlap tensor 'a'") != std::string::npos);
  }
  SUBCASE("gap between tensors") {
    check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                             12),
                   "b.data_offsets");
  }
  SUBCASE("trailing bytes") { check_rejected(make_file(one_f32, 8), "data_offsets"); }
  SUBCASE("duplicate name") {
    check_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                             8),
                   "a");
  }
  SUBCASE("metadata value not a string") {
    check_rejected(make_file(R"({"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4),
                   "__metadata__.k");
  }
  SUBCASE("truncated file") {
    safetensors file;
    const std::vector<double> v{1, 2, 3};
    file.add<double>("v", {3}, v);
    auto image = file.serialize();
    image.resize(image.size() - 3);
    check_rejected(image, "v.data_offsets");
  }
}

TEST_CASE("safetensors reports unreadable files and bad element conversions") {
  try {
    (void)safetensors::load("/nonexistent/dir/model.safetensors");
    FAIL("expected io_error");
  } catch (const io_error& e) {
    CHECK(std::string(e.what()).find("/nonexistent/dir/model.safetensors") != std::string::npos);
  }

  CHECK_THROWS_AS((void)safetensors::load(std::string(ECGSSL_TEST_DATA_DIR) + "/io/checkpoints"), io_error);  // a directory

  const auto bad_bool = safetensors::parse(make_file(R"({"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", 2, std::nullopt, 2));
  CHECK_THROWS_AS((void)bad_bool.values<double>("a"), io_error);

  safetensors file;
  const std::vector<std::int64_t> big{std::int64_t(1) << 40};
  const std::vector<float> f{1.0f};
  file.add<std::int64_t>("big", {1}, big);
  file.add<float>("f", {1}, f);
  CHECK(file.values<double>("big") == std::vector<double>{std::ldexp(1.0, 40)});
  CHECK_THROWS_AS((void)file.values<std::int32_t>("big"), io_error);  // no silent wrap
  CHECK_THROWS_AS((void)file.values<std::int64_t>("f"), io_error);   // floats are not integers
  CHECK_THROWS_AS((void)file.tensor("absent"), io_error);
  std::vector<float> wrong_size(2);
  CHECK_THROWS_AS(file.read_into<float>("f", wrong_size), io_error);
}

TEST_CASE("safetensors refuses duplicate, reserved and mis-sized tensors when building") {
  safetensors file;
  const std::vector<float> v{1, 2};
  file.add<float>("x", {2}, v);
  CHECK_THROWS_AS(file.add<float>("x", {2}, v), ecgssl::config_error);
  CHECK_THROWS_AS(file.add<float>("__metadata__", {2}, v), ecgssl::config_error);
  CHECK_THROWS_AS(file.add<float>("y", {3}, v), ecgssl::shape_error);
  CHECK_THROWS_AS(file.add<float>("", {2}, v), ecgssl::config_error);
}

TEST_CASE("every truncation and single-byte corruption of a valid file parses or throws io_error") {
  // A deterministic miniature of a fuzzer: no crash, no other exception type, and whatever
  // parses re-serialises to a file that parses again.
  safetensors file;
  const std::vector<float> w{1, 2, 3, 4};
  const std::vector<std::int64_t> s{5};
  file.add<float>("w", {2, 2}, w);
  file.add<std::int64_t>("s", {1}, s);
  file.set_metadata("ecgssl.config", "{}");
  const auto image = file.serialize();
  std::size_t parsed = 0;
  std::size_t rejected = 0;
  const auto attempt = [&](const std::vector<std::byte>& bytes) {
    try {
      const auto result = safetensors::parse(bytes, "mutant");
      for (const auto& t : result.tensors()) {
        try {
          (void)result.values<double>(t.name);
        } catch (const io_error&) {
        }
      }
      (void)safetensors::parse(result.serialize(), "mutant again");
      ++parsed;
    } catch (const io_error&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL("unexpected exception type: " << e.what());
    }
  };
  for (std::size_t length = 0; length < image.size(); ++length) {
    attempt(std::vector<std::byte>(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(length)));
  }
  for (std::size_t i = 0; i < image.size(); ++i) {
    for (unsigned value : {0x00u, 0xffu, 0x22u, 0x7bu, 0x39u, 0x2cu, 0x80u}) {
      auto mutant = image;
      mutant[i] = static_cast<std::byte>(value);
      attempt(mutant);
    }
  }
  CHECK(rejected > image.size());  // every truncation at least
  CHECK(parsed > 0);                // mutations of tensor data stay valid files
}

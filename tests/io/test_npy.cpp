// Tests of io/npy.hpp: the bytes it writes are read back by the independent test reader
// (tests/support/npy.hpp, which reads the fixtures NumPy writes in tools/), and the layout
// rules of the format (version 1.0, data on a 64-byte boundary) hold for many shapes.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ecgssl/core/error.hpp>
#include <ecgssl/io/npy.hpp>

#include "support/npy.hpp"

namespace {

std::filesystem::path write_temp(const std::string& name, const std::string& bytes) {
  const auto path = std::filesystem::temp_directory_path() / ("ecgssl_test_npy_" + name + ".npy");
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

}  // namespace

TEST_CASE("npy_bytes: a float32 matrix reads back with its shape and values") {
  const std::vector<float> values{0.0f, -1.5f, 3.25f, 1e-30f, 6.0e7f, -0.0f};
  const auto path = write_temp("2x3", ecgssl::io::npy_bytes(values, 2, 3));
  const auto array = ecgssl::testing::read_npy(path.string());
  REQUIRE(array.shape == std::vector<std::size_t>{2, 3});
  for (std::size_t i = 0; i < values.size(); ++i) CHECK(array.values[i] == static_cast<double>(values[i]));
}

TEST_CASE("npy_bytes: version 1.0, '<f4', data starts on a 64-byte boundary, for any shape") {
  for (std::size_t rows : {0u, 1u, 7u, 123u, 100000u}) {
    for (std::size_t columns : {1u, 3u, 64u, 768u}) {
      const std::vector<float> values(rows * columns, 0.5f);
      const std::string bytes = ecgssl::io::npy_bytes(values, rows, columns);
      REQUIRE(bytes.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
      const std::size_t header_length = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
      const std::size_t data_start = 10 + header_length;
      CHECK(data_start % 64 == 0);
      CHECK(bytes[data_start - 1] == '\n');
      CHECK(bytes.find("'descr': '<f4'") < data_start);
      CHECK(bytes.find("(" + std::to_string(rows) + ", " + std::to_string(columns) + ")") < data_start);
      CHECK(bytes.size() == data_start + 4 * rows * columns);
    }
  }
}

TEST_CASE("npy_bytes: a value count that does not fit the shape is a shape_error") {
  const std::vector<float> values(5, 1.0f);
  CHECK_THROWS_AS(ecgssl::io::npy_bytes(values, 2, 3), ecgssl::shape_error);
}

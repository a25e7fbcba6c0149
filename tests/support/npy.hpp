#pragma once
// Reads NumPy .npy files (version 1/2, little-endian f4/f8/i4/i8/u1/b1, C order): the format the
// PyTorch fixture scripts in tools/ write. Test-only; checkpoints use safetensors.

#include <ecgssl/core/error.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace ecgssl::testing {

struct npy_array {
  std::vector<std::size_t> shape;
  std::vector<double> values;  // converted to double, C order
  [[nodiscard]] std::size_t size() const { return values.size(); }
  template <class T>
  [[nodiscard]] std::vector<T> as() const {
    return std::vector<T>(values.begin(), values.end());
  }
};

inline npy_array read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(in_file(path), "cannot open fixture", "a .npy file written by tools/");
  char magic[6];
  in.read(magic, 6);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw io_error(in_file(path), "not a .npy file");
  const int major = in.get();
  in.get();
  std::uint32_t header_len = 0;
  if (major == 1) {
    std::uint16_t len16 = 0;
    in.read(reinterpret_cast<char*>(&len16), 2);
    header_len = len16;
  } else {
    in.read(reinterpret_cast<char*>(&header_len), 4);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  auto field = [&](const std::string& key) {
    const auto at = header.find("'" + key + "'");
    if (at == std::string::npos) throw io_error(in_file(path, key), "missing in .npy header");
    return header.substr(header.find(':', at) + 1);
  };
  if (field("fortran_order").find("False") > 3) throw io_error(in_file(path, "fortran_order"), "Fortran order", "C order");
  const std::string descr_rest = field("descr");
  const auto q1 = descr_rest.find('\'');
  const std::string descr = descr_rest.substr(q1 + 1, descr_rest.find('\'', q1 + 1) - q1 - 1);
  npy_array array;
  const std::string shape_rest = field("shape");
  const std::string dims = shape_rest.substr(shape_rest.find('(') + 1, shape_rest.find(')') - shape_rest.find('(') - 1);
  std::size_t count = 1;
  for (std::size_t pos = 0; pos < dims.size();) {
    const auto comma = dims.find(',', pos);
    const std::string token = dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (token.find_first_of("0123456789") != std::string::npos) {
      array.shape.push_back(std::stoull(token));
      count *= array.shape.back();
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  array.values.resize(count);
  auto read_all = [&](auto sample) {
    using T = decltype(sample);
    std::vector<T> raw(count);
    in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(count * sizeof(T)));
    if (!in) throw io_error(in_file(path), "truncated data", std::to_string(count) + " elements");
    for (std::size_t i = 0; i < count; ++i) array.values[i] = static_cast<double>(raw[i]);
  };
  if (descr == "<f4") read_all(float{});
  else if (descr == "<f8") read_all(double{});
  else if (descr == "<i4") read_all(std::int32_t{});
  else if (descr == "<i8") read_all(std::int64_t{});
  else if (descr == "|u1" || descr == "|b1") read_all(std::uint8_t{});
  else throw io_error(in_file(path, "descr"), "unsupported dtype " + descr, "<f4, <f8, <i4, <i8, |u1 or |b1");
  return array;
}

}  // namespace ecgssl::testing

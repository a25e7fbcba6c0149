#pragma once
/// \file npy.hpp
/// NumPy's .npy format (version 1.0) for a float32 matrix, as `numpy.load` reads it: the magic
/// string, a Python-literal header padded so the data starts on a 64-byte boundary, then the
/// values in C order, little-endian.

#include <bit>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>

#include "../core/error.hpp"

namespace ecgssl::io {

/// The bytes of a .npy document holding `values` as a float32 array of shape [rows, columns].
inline std::string npy_bytes(std::span<const float> values, std::size_t rows, std::size_t columns) {
  static_assert(std::endian::native == std::endian::little, "the '<f4' header promises little-endian data");
  if (values.size() != rows * columns) {
    throw shape_error(at_field("values"), std::to_string(values.size()) + " values",
                      std::to_string(rows) + " x " + std::to_string(columns));
  }
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(columns) + "), }";
  const std::size_t unpadded = 10 + header.size() + 1;  // magic 6 + version 2 + length 2, then '\n'
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  const std::size_t start = out.size();
  out.resize(start + values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(out.data() + start, values.data(), values.size() * sizeof(float));
  return out;
}

}  // namespace ecgssl::io

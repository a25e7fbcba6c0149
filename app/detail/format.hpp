#pragma once
/// \file format.hpp
/// Number formatting shared by the fine-tuning commands' tables.

#include <cstdio>
#include <string>

namespace ecgssl::cli::detail {

/// A number printed with 4 decimals, "nan" for NaN.
inline std::string fixed4(double v) {
  if (v != v) return "nan";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", v);
  return buffer;
}

}  // namespace ecgssl::cli::detail

#pragma once
// Opening and checking the append-only log files of the training callbacks.

#include <fstream>
#include <string>

#include "../../../core/error.hpp"

namespace ecgssl::pipeline {
namespace detail {
inline std::ofstream open_log(const std::string& path, bool append) {
  std::ofstream out(path, append ? std::ios::app : std::ios::trunc);
  if (!out) throw io_error(in_file(path), "cannot open the training log for writing", "a writable path");
  return out;
}
inline void check_written(std::ofstream& out, const std::string& path) {
  if (!out) throw io_error(in_file(path), "writing the training log failed (disk full?)");
}
}  // namespace detail
}  // namespace ecgssl::pipeline

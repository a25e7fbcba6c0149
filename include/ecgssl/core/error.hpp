#pragma once
/// \file error.hpp
/// Typed errors for user-facing problems. Every message says what was wrong, where (file, line,
/// field) and what was expected, so a user can fix the input without reading the source.

#include <cstdint>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ecgssl {

/// Where a problem was found. Every part is optional; `describe()` prints the ones present.
struct error_location {
  std::string file;                  ///< path of the offending file, if any
  std::optional<std::int64_t> line;  ///< 1-based line number in a text file
  std::optional<std::int64_t> byte_offset;  ///< offset in a binary file
  std::string field;                 ///< field / key / argument name

  [[nodiscard]] std::string describe() const {
    std::ostringstream out;
    const char* sep = "";
    if (!file.empty()) {
      out << file;
      sep = ": ";
    }
    if (line) {
      out << (file.empty() ? "line " : ":") << *line;
      sep = ": ";
    }
    if (byte_offset) {
      out << sep << "byte " << *byte_offset;
      sep = ": ";
    }
    if (!field.empty()) out << sep << "field '" << field << "'";
    return out.str();
  }
};

/// Base class of every error ecgssl throws on purpose.
class error : public std::runtime_error {
 public:
  /// `problem` = what was wrong, `expected` = what would have been accepted (may be empty).
  error(std::string kind, error_location where, std::string problem, std::string expected)
      : std::runtime_error(format(kind, where, problem, expected)),
        kind_(std::move(kind)),
        where_(std::move(where)),
        problem_(std::move(problem)),
        expected_(std::move(expected)) {}

  [[nodiscard]] const std::string& kind() const noexcept { return kind_; }
  [[nodiscard]] const error_location& where() const noexcept { return where_; }
  [[nodiscard]] const std::string& problem() const noexcept { return problem_; }
  [[nodiscard]] const std::string& expected() const noexcept { return expected_; }

 private:
  static std::string format(const std::string& kind, const error_location& where,
                            const std::string& problem, const std::string& expected) {
    std::string message = kind + " error";
    const std::string place = where.describe();
    if (!place.empty()) message += " in " + place;
    message += ": " + problem;
    if (!expected.empty()) message += " (expected " + expected + ")";
    return message;
  }

  std::string kind_;
  error_location where_;
  std::string problem_;
  std::string expected_;
};

/// A file could not be read, parsed or written.
class io_error : public error {
 public:
  io_error(error_location where, std::string problem, std::string expected = {})
      : error("I/O", std::move(where), std::move(problem), std::move(expected)) {}
};

/// A tensor, batch or parameter had the wrong shape.
class shape_error : public error {
 public:
  shape_error(error_location where, std::string problem, std::string expected = {})
      : error("shape", std::move(where), std::move(problem), std::move(expected)) {}
};

/// An option, configuration value or combination of them is invalid.
class config_error : public error {
 public:
  config_error(error_location where, std::string problem, std::string expected = {})
      : error("configuration", std::move(where), std::move(problem), std::move(expected)) {}
};

/// Input data contains values the method cannot use (NaN samples, a zero gain...).
class data_error : public error {
 public:
  data_error(error_location where, std::string problem, std::string expected = {})
      : error("data", std::move(where), std::move(problem), std::move(expected)) {}
};

/// A CUDA runtime or cuBLAS call failed (thrown only by code under include/ecgssl/cuda/).
class cuda_error : public error {
 public:
  cuda_error(error_location where, std::string problem, std::string expected = {})
      : error("CUDA", std::move(where), std::move(problem), std::move(expected)) {}
};

/// Shorthand for a location that is only a field name (command-line options, config keys).
inline error_location at_field(std::string field) {
  error_location where;
  where.field = std::move(field);
  return where;
}

/// Shorthand for a location in a file, optionally naming the field.
inline error_location in_file(std::string file, std::string field = {}) {
  error_location where;
  where.file = std::move(file);
  where.field = std::move(field);
  return where;
}

}  // namespace ecgssl

#pragma once
/// \file validators.hpp
/// Option checks of the command, applied at parse time so a bad value is refused before any
/// file is read, with a message a person can read. CLI11's own PositiveNumber lets NaN through
/// (every comparison with NaN is false) and an unsigned option takes "-1" as 2^64-1.

#include <cmath>
#include <string>

#include <CLI/CLI.hpp>

namespace ecgssl::cli::detail {

/// The text of `s` as a double, or NaN when it is not a number at all.
inline double number_of(const std::string& s) {
  try {
    std::size_t used = 0;
    const double v = std::stod(s, &used);
    return used == s.size() ? v : std::nan("");
  } catch (const std::exception&) {
    return std::nan("");
  }
}

/// A finite number > 0 (learning rates, frequencies).
inline CLI::Validator finite_positive() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        const double v = number_of(s);
        return std::isfinite(v) && v > 0 ? std::string() : "'" + s + "' is not a finite number greater than 0";
      },
      "FINITE>0");
}

/// A finite number in [low, high].
inline CLI::Validator finite_in(double low, double high) {
  return CLI::Validator(
      [low, high](std::string& s) -> std::string {
        const double v = number_of(s);
        if (std::isfinite(v) && v >= low && v <= high) return {};
        return "'" + s + "' is not a finite number from " + CLI::detail::to_string(low) + " to " +
               CLI::detail::to_string(high);
      },
      "FINITE");
}

/// A whole number >= 0 written in decimal digits only (seeds, counts): no sign, no exponent.
inline CLI::Validator unsigned_integer() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        const bool digits = !s.empty() && s.size() <= 20 && s.find_first_not_of("0123456789") == std::string::npos;
        return digits ? std::string() : "'" + s + "' is not a whole number from 0 to 18446744073709551615";
      },
      "UINT");
}

}  // namespace ecgssl::cli::detail

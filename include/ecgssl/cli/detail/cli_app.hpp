#pragma once
/// \file cli_app.hpp
/// Shared plumbing of the subcommands written with CLI11: parse an argument vector (without the
/// program and subcommand names) and turn --help / usage errors into text and an exit code, so
/// each `run_<name>` can be driven by a test exactly as the `ecgssl` binary drives it.

#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace ecgssl::cli::detail {

/// Parses `args` into `app`. Returns -1 when the command should go on, otherwise the exit code to
/// return (0 after --help printed to `out`, 2 after a usage error printed to `err`).
inline int parse_app(CLI::App& app, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    err << app.get_name() << ": " << e.what() << "\n" << app.help();
    return 2;
  }
  return -1;
}

/// A number printed with 4 decimals, "nan" for NaN.
inline std::string fixed4(double v) {
  if (v != v) return "nan";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", v);
  return buffer;
}

}  // namespace ecgssl::cli::detail

#pragma once
/// \file cli11_run.hpp
/// Shared plumbing of the CLI11-based subcommands (pretrain, embed, bench): parse the words
/// after the subcommand name, print help or usage errors, turn ecgssl errors into one line.

#include <algorithm>
#include <exception>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <ecgssl/core/error.hpp>

namespace ecgssl::cli::detail {

/// Parses `args` with `app`; then runs `body()`. Returns 0 (help or success), 2 (usage error:
/// message and usage on err) or 1 (an ecgssl::error or other exception while running: one line
/// on err starting with "ecgssl <name>:").
template <class Body>
int run_cli11(CLI::App& app, const std::vector<std::string>& args, std::ostream& out, std::ostream& err, Body&& body) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    err << app.get_name() << ": " << e.what() << "\n" << app.help();
    return 2;
  }
  try {
    return body();
  } catch (const ecgssl::error& e) {
    err << app.get_name() << ": " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    err << app.get_name() << ": unexpected failure: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace ecgssl::cli::detail

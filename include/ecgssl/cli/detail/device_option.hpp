#pragma once
/// \file device_option.hpp
/// `--device host|cuda` of the training and inference subcommands (issue 8). The `ecgssl`
/// command is compiled by the host compiler and contains no CUDA code, so `cuda` is refused
/// with a config_error that says so; a CUDA build of the command would define
/// ECGSSL_CLI_WITH_CUDA before including the CLI headers. Until the model, losses and pipelines
/// run on the GPU (docs/backends.md), such a build refuses `cuda` too, naming the subcommand:
/// a subcommand never falls back to the host silently.

#include <string>

#include <CLI/CLI.hpp>

#include "../../core/error.hpp"

namespace ecgssl::cli::detail {

/// Where a subcommand computes.
enum class compute_device { host, cuda };

#if defined(ECGSSL_CLI_WITH_CUDA)
inline constexpr bool cli_built_with_cuda = true;
#else
inline constexpr bool cli_built_with_cuda = false;
#endif

/// Adds `--device` (default "host") to `app`, storing the word in `device`.
inline CLI::Option* add_device_option(CLI::App& app, std::string& device) {
  return app.add_option("--device", device, "host, or cuda (only in an ecgssl built with CUDA)")
      ->capture_default_str();
}

/// The device `text` names for subcommand `command` (e.g. "pretrain"); throws config_error
/// naming --device for an unknown word, for cuda in a binary without CUDA, and for cuda where
/// the subcommand's pipeline has no GPU version yet.
inline compute_device parse_device(const std::string& text, const std::string& command) {
  if (text == "host") return compute_device::host;
  if (text != "cuda") throw config_error(at_field("--device"), "'" + text + "'", "host or cuda");
  if constexpr (!cli_built_with_cuda) {
    throw config_error(at_field("--device"), "cuda, but this ecgssl binary was built without CUDA",
                       "--device host, or an ecgssl binary built with CUDA");
  } else {
    throw config_error(at_field("--device"),
                       "cuda, but the " + command + " pipeline does not run on the GPU yet (docs/backends.md)",
                       "--device host");
  }
}

}  // namespace ecgssl::cli::detail

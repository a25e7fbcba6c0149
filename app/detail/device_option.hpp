#pragma once
/// \file device_option.hpp
/// `--device host|cuda` of the training and inference subcommands (issue 8). The `ecgssl`
/// command's main translation unit is compiled by the host compiler. In a build with CUDA
/// (ECGSSL_WITH_CUDA), CMake adds a CUDA translation unit with the GPU pipelines to it
/// (app/cuda_pipelines.cu) and defines ECGSSL_CLI_WITH_CUDA; without it, `cuda` is
/// refused with a config_error that says so: nothing falls back to the host silently.

#include <string>

#include <CLI/CLI.hpp>

#include <ecgssl/core/error.hpp>

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

/// The device `text` names; throws config_error naming --device for an unknown word and for
/// cuda in a binary without CUDA. Every pipeline of the command has a GPU version.
inline compute_device parse_device(const std::string& text) {
  if (text == "host") return compute_device::host;
  if (text != "cuda") throw config_error(at_field("--device"), "'" + text + "'", "host or cuda");
  if constexpr (!cli_built_with_cuda) {
    throw config_error(at_field("--device"), "cuda, but this ecgssl binary was built without CUDA",
                       "--device host, or an ecgssl binary built with CUDA");
  }
  return compute_device::cuda;
}

}  // namespace ecgssl::cli::detail

#pragma once
/// \file precision_option.hpp
/// `--precision fp32|bf16` of the training and inference subcommands (core/precision.hpp): the
/// arithmetic of the matrix products. bf16 runs on any x86-64 CPU (through oneDNN's bf16 kernels
/// where the CPU has them). On the cuda backend only fp32 exists yet: bf16 there is refused, not
/// silently computed in fp32.

#include <string>

#include <CLI/CLI.hpp>

#include <ecgssl/core/error.hpp>
#include <ecgssl/core/precision.hpp>

#include "device_option.hpp"

namespace ecgssl::cli::detail {

inline CLI::Option* add_precision_option(CLI::App& app, std::string& text) {
  return app.add_option("--precision", text,
                        "fp32, or bf16: matrix products on bfloat16 operands with float32 accumulation "
                        "(weights, gradients, optimizer, norms, softmax and losses stay float32)")
      ->capture_default_str();
}

/// The precision `text` names for a run on `device` (config_error naming --precision otherwise).
inline precision parse_precision_option(const std::string& text, compute_device device) {
  const precision mode = parse_precision(text, "--precision");
  if (mode == precision::bf16 && device == compute_device::cuda) {
    throw config_error(at_field("--precision"), "bf16 with --device cuda",
                       "--precision fp32 on cuda (bf16 on the GPU is not built yet), or --device host");
  }
  return mode;
}

}  // namespace ecgssl::cli::detail

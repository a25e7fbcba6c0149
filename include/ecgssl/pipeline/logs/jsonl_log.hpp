#pragma once
/// \file jsonl_log.hpp
/// Training log as JSON lines, one object per update. Flushed at every record, so a killed run keeps its history up to the last update.

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "../../core/error.hpp"
#include "detail/log_file.hpp"
#include "step_record.hpp"

namespace ecgssl::pipeline {

/// JSON lines: {"step":..,"loss":..,"learning_rate":..,"segments_per_second":..,
/// "elapsed_seconds":..,"terms":{"w2v":..,...}} per update.
class jsonl_log {
 public:
  explicit jsonl_log(std::string path, bool append = false)
      : path_(std::move(path)), out_(detail::open_log(path_, append)) {}

  void on_step(const step_record& r) {
    nlohmann::json line = {{"step", r.step},
                           {"loss", r.loss},
                           {"learning_rate", r.learning_rate},
                           {"segments_per_second", r.segments_per_second},
                           {"elapsed_seconds", r.elapsed_seconds}};
    nlohmann::json terms = nlohmann::json::object();
    for (const auto& [name, value] : r.terms) terms[name] = value;
    line["terms"] = std::move(terms);
    out_ << line.dump() << '\n' << std::flush;
    detail::check_written(out_, path_);
  }
  void on_end() {}

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace ecgssl::pipeline

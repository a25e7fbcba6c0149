#pragma once
/// \file csv_log.hpp
/// Training log as CSV, one row per update. Flushed at every record, so a killed run keeps its history up to the last update.

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "../../core/error.hpp"
#include "detail/log_file.hpp"
#include "step_record.hpp"

namespace ecgssl::pipeline {

/// CSV: step,loss,learning_rate,segments_per_second,elapsed_seconds,<term names...>.
/// The term columns are fixed by the first record; later records must carry the same terms.
class csv_log {
 public:
  explicit csv_log(std::string path, bool append = false)
      : path_(std::move(path)), append_(append), out_(detail::open_log(path_, append)) {}

  void on_step(const step_record& r) {
    if (!header_written_) {
      term_names_.clear();
      for (const auto& [name, value] : r.terms) term_names_.push_back(name);
      if (!append_ || out_.tellp() == 0) {
        out_ << "step,loss,learning_rate,segments_per_second,elapsed_seconds";
        for (const auto& name : term_names_) out_ << ',' << name;
        out_ << '\n';
      }
      header_written_ = true;
    }
    if (r.terms.size() != term_names_.size()) {
      throw config_error(in_file(path_, "terms"), "a record has " + std::to_string(r.terms.size()) + " loss terms",
                         std::to_string(term_names_.size()) + " as in the first row");
    }
    char buffer[160];
    std::snprintf(buffer, sizeof buffer, "%lld,%.9g,%.9g,%.6g,%.6g", static_cast<long long>(r.step), r.loss,
                  r.learning_rate, r.segments_per_second, r.elapsed_seconds);
    out_ << buffer;
    for (const auto& [name, value] : r.terms) {
      std::snprintf(buffer, sizeof buffer, ",%.9g", value);
      out_ << buffer;
    }
    out_ << '\n' << std::flush;
    detail::check_written(out_, path_);
  }
  void on_end() {}

 private:
  std::string path_;
  bool append_;
  std::ofstream out_;
  std::vector<std::string> term_names_;
  bool header_written_ = false;
};

}  // namespace ecgssl::pipeline

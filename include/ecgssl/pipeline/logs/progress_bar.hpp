#pragma once
/// \file progress_bar.hpp
/// A terminal progress bar for training: steps, loss, learning rate, throughput and ETA.
/// On a terminal it redraws one line; in a log file (CI, `| tee`) it prints a line at every
/// tenth of the run instead, so logs stay readable.

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <string>

#include "step_record.hpp"

namespace ecgssl::pipeline {

class progress_bar {
 public:
  /// `interactive`: redraw in place with '\r' (pass isatty(fileno(stdout))).
  progress_bar(std::ostream& out, std::string label, bool interactive, int width = 24)
      : out_(&out), label_(std::move(label)), interactive_(interactive), width_(width) {}

  /// The line shown for a record (also what the tests read).
  [[nodiscard]] std::string render(const step_record& r) const {
    const double fraction = r.total_steps > 0
                                ? std::clamp(static_cast<double>(r.step) / static_cast<double>(r.total_steps), 0.0, 1.0)
                                : 0.0;
    const int filled = static_cast<int>(fraction * width_);
    std::string bar(static_cast<std::size_t>(width_), ' ');
    for (int i = 0; i < filled; ++i) bar[static_cast<std::size_t>(i)] = '=';
    if (filled < width_ && r.total_steps > 0) bar[static_cast<std::size_t>(filled)] = '>';
    const double remaining_steps = static_cast<double>(std::max<std::int64_t>(0, r.total_steps - r.step));
    const double seconds_per_step = r.step > 0 ? r.elapsed_seconds / static_cast<double>(r.step) : 0.0;
    char line[256];
    std::snprintf(line, sizeof line, "%s [%s] %lld/%lld %3.0f%% loss %.4f lr %.2e %.1f seg/s ETA %s",
                  label_.c_str(), bar.c_str(), static_cast<long long>(r.step),
                  static_cast<long long>(r.total_steps), 100.0 * fraction, r.loss, r.learning_rate,
                  r.segments_per_second, format_duration(remaining_steps * seconds_per_step).c_str());
    return line;
  }

  void on_step(const step_record& r) {
    last_ = r;
    if (interactive_) {
      *out_ << '\r' << render(r) << std::flush;
      return;
    }
    // Log mode: the first step, every tenth of the run, and the last step.
    const std::int64_t every = std::max<std::int64_t>(1, r.total_steps / 10);
    if (r.step == 1 || r.step % every == 0 || r.step == r.total_steps) *out_ << render(r) << '\n' << std::flush;
  }

  void on_end() {
    if (interactive_) *out_ << '\n' << std::flush;
  }

 private:
  std::ostream* out_;
  std::string label_;
  bool interactive_;
  int width_;
  step_record last_;
};

}  // namespace ecgssl::pipeline

#pragma once
/// \file loss_curve_plot.hpp
/// Writes a loss curve as a self-contained SVG (no plotting library needed; opens in any
/// browser). Collects the loss of every update as a callback and draws it at the end.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../../core/error.hpp"
#include "step_record.hpp"

namespace ecgssl::pipeline {

/// "Nice" tick values covering [lo, hi] (1, 2, 5 x 10^k steps).
inline std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) ticks.push_back(t);
  return ticks;
}

/// Renders (step, loss) points as an SVG document.
inline std::string render_loss_curve_svg(const std::vector<std::pair<double, double>>& points,
                                         const std::string& title) {
  const double width = 640, height = 400, left = 70, right = 20, top = 40, bottom = 50;
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min;
  double y_min = x_min, y_max = -x_min;
  for (const auto& [x, y] : points) {
    if (!std::isfinite(y)) continue;
    x_min = std::min(x_min, x);
    x_max = std::max(x_max, x);
    y_min = std::min(y_min, y);
    y_max = std::max(y_max, y);
  }
  if (!(x_max > x_min)) { x_min = std::isfinite(x_min) ? x_min - 1 : 0; x_max = x_min + 2; }
  if (!(y_max > y_min)) { y_min = std::isfinite(y_min) ? y_min - 1 : 0; y_max = y_min + 2; }
  const double pad = 0.05 * (y_max - y_min);
  y_min -= pad;
  y_max += pad;
  auto sx = [&](double x) { return left + (x - x_min) / (x_max - x_min) * (width - left - right); };
  auto sy = [&](double y) { return top + (y_max - y) / (y_max - y_min) * (height - top - bottom); };

  std::string svg;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
                width, height, width, height);
  svg += buf;
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  std::string escaped;
  for (char c : title) escaped += c == '<' ? std::string("&lt;") : c == '&' ? std::string("&amp;") : std::string(1, c);
  std::snprintf(buf, sizeof buf, "<text x=\"%.0f\" y=\"24\" font-family=\"sans-serif\" font-size=\"16\" text-anchor=\"middle\">",
                width / 2);
  svg += buf + escaped + "</text>\n";
  std::snprintf(buf, sizeof buf,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", left,
                top, width - left - right, height - top - bottom);
  svg += buf;
  for (double t : nice_ticks(y_min, y_max)) {
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
                  "font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"end\">%g</text>\n",
                  left, width - right, sy(t), sy(t), left - 6, sy(t) + 4, t);
    svg += buf;
  }
  for (double t : nice_ticks(x_min, x_max)) {
    std::snprintf(buf, sizeof buf,
                  "<text x=\"%.1f\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"middle\">%g</text>\n",
                  sx(t), height - bottom + 16, t);
    svg += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<text x=\"%.0f\" y=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\" text-anchor=\"middle\">update</text>\n"
                "<text x=\"16\" y=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 16 %.0f)\">loss</text>\n",
                left + (width - left - right) / 2, height - 12, top + (height - top - bottom) / 2,
                top + (height - top - bottom) / 2);
  svg += buf;
  svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"";
  for (const auto& [x, y] : points) {
    if (!std::isfinite(y)) continue;
    std::snprintf(buf, sizeof buf, "%.2f,%.2f ", sx(x), sy(y));
    svg += buf;
  }
  svg += "\"/>\n</svg>\n";
  return svg;
}

/// Callback: remembers every update's loss and writes the SVG when training ends.
class loss_curve_plot {
 public:
  loss_curve_plot(std::string path, std::string title) : path_(std::move(path)), title_(std::move(title)) {}

  void on_step(const step_record& r) { points_.emplace_back(static_cast<double>(r.step), r.loss); }
  void on_end() const { write(); }

  void write() const {
    std::ofstream out(path_, std::ios::trunc);
    if (!out) throw io_error(in_file(path_), "cannot open the loss-curve plot for writing", "a writable path");
    out << render_loss_curve_svg(points_, title_);
    if (!out.flush()) throw io_error(in_file(path_), "writing the loss-curve plot failed (disk full?)");
  }
  [[nodiscard]] const std::vector<std::pair<double, double>>& points() const { return points_; }

 private:
  std::string path_;
  std::string title_;
  std::vector<std::pair<double, double>> points_;
};

}  // namespace ecgssl::pipeline

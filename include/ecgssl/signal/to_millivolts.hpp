#pragma once
/// \file to_millivolts.hpp
/// Digital units to millivolts, per lead: mV = (adu - baseline) / gain (WFDB convention; spec
/// §2.2: `val / adc_gain`, the Challenge headers have baseline 0).

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../core/concepts.hpp"
#include "../core/error.hpp"

namespace ecgssl::signal {

/// Converts x: [leads, samples] from ADC units to mV with one gain (adu/mV) and baseline per lead.
class to_millivolts {
 public:
  /// `gains` and `baselines` per lead; baselines may be empty (all 0). A gain that is zero, negative
  /// or not finite throws data_error naming the lead.
  to_millivolts(std::vector<double> gains, std::vector<double> baselines = {})
      : gains_(std::move(gains)), baselines_(std::move(baselines)) {
    if (baselines_.empty()) baselines_.assign(gains_.size(), 0.0);
    if (baselines_.size() != gains_.size()) {
      throw config_error(at_field("baselines"), std::to_string(baselines_.size()) + " baselines for " +
                                                    std::to_string(gains_.size()) + " gains",
                         "one baseline per lead");
    }
    for (std::size_t l = 0; l < gains_.size(); ++l) {
      if (!(std::isfinite(gains_[l]) && gains_[l] > 0.0)) {
        throw data_error(at_field("gain of lead " + std::to_string(l)), "gain " + std::to_string(gains_[l]),
                         "a positive ADC gain in adu/mV");
      }
    }
  }

  void apply(tensor<float, 2>& x, signal_context&) const {
    if (x.shape()[0] != gains_.size()) {
      throw shape_error(at_field("x"), "got " + std::to_string(x.shape()[0]) + " leads",
                        std::to_string(gains_.size()) + " leads, one per gain");
    }
    const std::size_t n = x.shape()[1];
    for (std::size_t l = 0; l < gains_.size(); ++l) {
      float* row = x.data() + l * n;
      const double inverse = 1.0 / gains_[l];
      for (std::size_t t = 0; t < n; ++t) {
        row[t] = static_cast<float>((static_cast<double>(row[t]) - baselines_[l]) * inverse);
      }
    }
  }

 private:
  std::vector<double> gains_;
  std::vector<double> baselines_;
};

}  // namespace ecgssl::signal

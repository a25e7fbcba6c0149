#pragma once
/// \file parameter_group.hpp
/// A set of parameters with its own learning-rate multiplier, weight decay and frozen flag.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../core/parameter_store.hpp"

namespace ecgssl {

/// Selects store entries by name prefix (any of `prefixes`) or by a predicate.
/// Entries go to the first group that selects them; the rest to the optimizer's default group.
struct parameter_group {
  std::string name = "default";
  std::vector<std::string> prefixes;                        ///< selects entries whose name starts with one of these
  std::function<bool(const parameter_entry&)> predicate;    ///< or this, when set
  double learning_rate_multiplier = 1.0;
  std::optional<double> weight_decay;  ///< overrides the update policy's weight_decay
  /// true: entries whose parameter_attributes::weight_decay is false (norms, biases) get no
  /// decay; false: decay everything, as the reference pre-training does (spec §5).
  bool honour_no_decay = true;
  bool frozen = false;  ///< never updated (e.g. the CNN during fine-tuning, spec §3.3)

  [[nodiscard]] bool selects(const parameter_entry& entry) const {
    if (predicate) return predicate(entry);
    for (const auto& prefix : prefixes) {
      if (std::string_view(entry.name).substr(0, prefix.size()) == prefix) return true;
    }
    return false;
  }
};

}  // namespace ecgssl

#pragma once
/// \file update_plan.hpp
/// Which settings update which slice of a flat parameter buffer (spec §5 parameter groups): the
/// entries in store order, grouped into contiguous runs that share one (group, decays?) variant
/// of the update policy. The host optimizer and the device optimizer (cuda/device_optimizer.cuh)
/// plan from this one function, so a group's multiplier, weight decay and frozen flag mean the
/// same on both backends.

#include <array>
#include <cstddef>
#include <vector>

#include "../../core/parameter_store.hpp"
#include "../parameter_group.hpp"

namespace ecgssl::detail {

/// One copy of the update policy per (group, decays?) pair in use.
template <class U>
struct update_variant {
  U policy;
  double weight_decay = 0.0;
  double multiplier = 1.0;
};

/// A contiguous slice of the flat buffer updated with one variant (frozen: never updated).
struct update_run {
  std::size_t offset = 0;
  std::size_t size = 0;
  std::size_t variant = 0;
  bool frozen = false;
};

template <class U>
double policy_weight_decay(const U& update) {
  if constexpr (requires { update.weight_decay; }) return update.weight_decay;
  return 0.0;
}

/// Entries go to the first group selecting them, the rest to `default_group`; an entry is frozen
/// when its group is or it is not trainable; it decays unless its group honours no-decay and the
/// entry asks for none. Adjacent entries with the same variant and frozen flag merge into a run.
template <class U, class T>
void plan_update_runs(const parameter_store<T>& store, const std::vector<parameter_group>& groups,
                      const parameter_group& default_group, const U& update,
                      std::vector<update_variant<U>>& variants, std::vector<update_run>& runs) {
  variants.clear();
  runs.clear();
  // variant key: (group index, decays?) -> index
  std::vector<std::array<std::ptrdiff_t, 2>> variant_of(groups.size() + 1, {-1, -1});
  for (const auto& entry : store.entries()) {
    std::size_t g = groups.size();
    for (std::size_t i = 0; i < groups.size(); ++i) {
      if (groups[i].selects(entry)) {
        g = i;
        break;
      }
    }
    const parameter_group& group = g < groups.size() ? groups[g] : default_group;
    const bool frozen = group.frozen || !entry.attributes.trainable;
    const bool decays = !(group.honour_no_decay && !entry.attributes.weight_decay);
    auto& slot = variant_of[g][decays ? 1 : 0];
    if (slot < 0) {
      slot = static_cast<std::ptrdiff_t>(variants.size());
      const double wd = group.weight_decay.value_or(policy_weight_decay(update));
      variants.push_back({update, decays ? wd : 0.0, group.learning_rate_multiplier});
    }
    const auto variant = static_cast<std::size_t>(slot);
    if (!runs.empty() && runs.back().variant == variant && runs.back().frozen == frozen &&
        runs.back().offset + runs.back().size == entry.offset) {
      runs.back().size += entry.size;
    } else {
      runs.push_back({entry.offset, entry.size, variant, frozen});
    }
  }
}

}  // namespace ecgssl::detail

#pragma once
/// \file splits.hpp
/// Train/valid/test splits (spec §2.4).
///
///  - reference_segment_split: the reference's classification split. It shuffles the list of
///    segment files with `random.Random(42).shuffle` and cuts it into train = first
///    n - 2 * int(n * 0.1), valid = next int(n * 0.1), test = the rest (40,798 CPSC + Georgia
///    segments -> 32640 / 4079 / 4079). With io::python_random this reproduces Python exactly,
///    provided the list is in the same order as the reference's (`glob` order, which depends on
///    the file system: sort both sides, or feed ecgssl the reference's list, to compare). One
///    generator is shared by consecutive subsets in the reference (CPSC, then Georgia), so pass
///    the same python_random to consecutive calls. Two segments of one record can land in
///    different parts (record leakage, spec §9).
///  - group_split (default for new experiments): the same cut applied to groups (records, or
///    patients), every item following its group, so no record is in two parts.
///  - identification_split: the reference's identification manifests (manifest_identification.py):
///    identities in order of first appearance; per identity one draw r = rng.random(); if
///    r <= valid_fraction the identity's first item goes to the gallery and its second to the
///    probe set (identities with fewer than two items are dropped, the draw still consumed),
///    otherwise all its items go to training with the next consecutive label. PTB-XL uses
///    valid_fraction = 1.0 (every patient with two sessions becomes a gallery/probe pair).

#include <cstddef>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/error.hpp"
#include "python_random.hpp"

namespace ecgssl::io {

/// Item indices of each part.
struct split_indices {
  std::vector<std::size_t> train;
  std::vector<std::size_t> valid;
  std::vector<std::size_t> test;
};

namespace detail {
inline void check_fraction(double fraction, double max, const char* field) {
  if (!(fraction >= 0.0 && fraction <= max)) {
    throw config_error(at_field(field), std::to_string(fraction), "a fraction in [0, " + std::to_string(max) + "]");
  }
}

/// Python's int(n * fraction) on doubles.
inline std::size_t python_share(std::size_t n, double fraction) {
  return static_cast<std::size_t>(static_cast<double>(n) * fraction);
}

/// Distinct keys in order of first appearance, and each item's key number.
inline std::vector<std::size_t> group_numbers(std::span<const std::string> keys, std::size_t& count) {
  std::unordered_map<std::string, std::size_t> number;
  std::vector<std::size_t> out(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto [it, inserted] = number.try_emplace(keys[i], number.size());
    out[i] = it->second;
  }
  count = number.size();
  return out;
}
}  // namespace detail

/// The reference's segment-level split of items 0..n-1 (see above); `valid_fraction` <= 0.5.
[[nodiscard]] inline split_indices reference_segment_split(std::size_t n, double valid_fraction, python_random& rng) {
  detail::check_fraction(valid_fraction, 0.5, "valid_fraction");
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  rng.shuffle(order);
  const std::size_t valid = detail::python_share(n, valid_fraction);
  const std::size_t train = n - 2 * valid;
  split_indices out;
  out.train.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(train));
  out.valid.assign(order.begin() + static_cast<std::ptrdiff_t>(train),
                   order.begin() + static_cast<std::ptrdiff_t>(train + valid));
  out.test.assign(order.begin() + static_cast<std::ptrdiff_t>(train + valid), order.end());
  return out;
}

/// Split by group: groups[i] names item i's record (or patient). The distinct groups, in order of
/// first appearance, are split as reference_segment_split splits items; items keep their input
/// order within each part.
[[nodiscard]] inline split_indices group_split(std::span<const std::string> groups, double valid_fraction,
                                               python_random& rng) {
  std::size_t group_count = 0;
  const auto number = detail::group_numbers(groups, group_count);
  const split_indices by_group = reference_segment_split(group_count, valid_fraction, rng);
  std::vector<int> part(group_count, 0);
  for (auto g : by_group.valid) part[g] = 1;
  for (auto g : by_group.test) part[g] = 2;
  split_indices out;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const int p = part[number[i]];
    (p == 0 ? out.train : p == 1 ? out.valid : out.test).push_back(i);
  }
  return out;
}

/// Identification manifests: training items with identity labels, and gallery/probe pairs.
struct identification_split {
  std::vector<std::size_t> train;         ///< item indices
  std::vector<std::size_t> train_label;   ///< consecutive identity label of each training item
  std::vector<std::size_t> gallery;       ///< gallery[k] and probe[k] are the same identity, label k
  std::vector<std::size_t> probe;
  std::size_t train_identities = 0;
};

/// The reference's identification split (see above); identities[i] = identity of item i.
[[nodiscard]] inline identification_split make_identification_split(std::span<const std::string> identities,
                                                                    double valid_fraction, python_random& rng) {
  detail::check_fraction(valid_fraction, 1.0, "valid_fraction");
  std::size_t count = 0;
  const auto number = detail::group_numbers(identities, count);
  std::vector<std::vector<std::size_t>> members(count);
  for (std::size_t i = 0; i < identities.size(); ++i) members[number[i]].push_back(i);
  identification_split out;
  for (const auto& items : members) {
    const double r = rng.random();
    if (r <= valid_fraction) {
      if (items.size() < 2) continue;
      out.gallery.push_back(items[0]);
      out.probe.push_back(items[1]);
    } else {
      for (auto i : items) {
        out.train.push_back(i);
        out.train_label.push_back(out.train_identities);
      }
      ++out.train_identities;
    }
  }
  return out;
}

}  // namespace ecgssl::io

#pragma once
/// \file lead_set.hpp
/// Lead subsets addressed by name (spec §3.1): the paper's 12-, 6- (I, II, III, aVR, aVL, aVF),
/// 3- (I, II, V2), 2- (I, II) and 1-lead (I) sets, the Challenge 2021 4-lead set (I, II, III, V2)
/// and any user list of standard lead names ("I,II,V2"). A set places a [leads, samples] array
/// into the 12 canonical slots with zero fill (spec §3.1: reduced-lead inputs are zero-filled to 12
/// channels), and the limb-lead relations of Einthoven/Goldberger re-derive III, aVR, aVL, aVF from
/// I and II (spec §7 Table 4 notes).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "lead_names.hpp"

namespace ecgssl::io {

/// An ordered set of distinct standard leads. The order is the row order of the arrays the set
/// describes ([leads, samples]); the named sets use canonical order.
class lead_set {
 public:
  /// All 12 leads in canonical order.
  lead_set() : slots_(standard_lead_count) {
    for (std::size_t i = 0; i < standard_lead_count; ++i) slots_[i] = i;
  }

  /// A set from canonical slots (0..11), in the given order; duplicates or out-of-range slots
  /// throw config_error.
  static lead_set from_slots(std::span<const std::size_t> slots, error_location where = at_field("leads")) {
    lead_set set;
    set.slots_.clear();
    for (auto slot : slots) {
      if (slot >= standard_lead_count) {
        throw config_error(where, "lead slot " + std::to_string(slot) + " is out of range", "0..11");
      }
      set.append(slot, where);
    }
    if (set.slots_.empty()) throw config_error(where, "empty lead set", "at least one lead");
    return set;
  }

  /// A set from lead names in any case (see lead_names.hpp); an unknown or repeated name throws
  /// config_error naming it and the accepted names.
  template <class String>
  static lead_set from_names(std::span<const String> names, error_location where = at_field("leads")) {
    lead_set set;
    set.slots_.clear();
    for (const auto& name : names) set.append(lead_index(std::string_view(name), where), where);
    if (set.slots_.empty()) throw config_error(where, "empty lead set", "at least one lead");
    return set;
  }
  static lead_set from_names(const std::vector<std::string>& names, error_location where = at_field("leads")) {
    return from_names(std::span<const std::string>(names), std::move(where));
  }
  static lead_set from_names(std::initializer_list<std::string_view> names,
                             error_location where = at_field("leads")) {
    return from_names(std::span<const std::string_view>(names.begin(), names.size()), std::move(where));
  }

  /// Parses a lead-set name: "12", "6", "3", "2", "1" (the paper's sets), "4" (the Challenge's
  /// I, II, III, V2), each optionally followed by "-lead"/"lead"/"-leads"/"leads", or a comma
  /// separated list of lead names such as "I,II,V2" (kept in the given order).
  static lead_set parse(std::string_view text, error_location where = at_field("leads")) {
    const std::string_view trimmed = detail::trim(text);
    std::string_view number = trimmed;
    for (std::string_view suffix : {"-leads", "leads", "-lead", "lead"}) {
      if (number.size() > suffix.size() &&
          detail::iequals(number.substr(number.size() - suffix.size()), suffix)) {
        number.remove_suffix(suffix.size());
        break;
      }
    }
    number = detail::trim(number);
    if (number == "12") return lead_set();
    if (number == "6") return from_slots(std::array<std::size_t, 6>{0, 1, 2, 3, 4, 5}, where);
    if (number == "4") return from_slots(std::array<std::size_t, 4>{0, 1, 2, 7}, where);
    if (number == "3") return from_slots(std::array<std::size_t, 3>{0, 1, 7}, where);
    if (number == "2") return from_slots(std::array<std::size_t, 2>{0, 1}, where);
    if (number == "1") return from_slots(std::array<std::size_t, 1>{0}, where);
    if (!number.empty() && number.find_first_not_of("0123456789") == std::string_view::npos) {
      throw config_error(where, "no lead set named '" + std::string(trimmed) + "'",
                         "12, 6, 4, 3, 2 or 1, or a comma-separated list of lead names");
    }
    std::vector<std::string_view> names;
    std::size_t begin = 0;
    while (begin <= trimmed.size()) {
      const std::size_t comma = std::min(trimmed.find(',', begin), trimmed.size());
      const std::string_view name = detail::trim(trimmed.substr(begin, comma - begin));
      if (name.empty()) {
        throw config_error(where, "empty lead name in '" + std::string(trimmed) + "'",
                           "a comma-separated list of lead names such as I,II,V2");
      }
      names.push_back(name);
      begin = comma + 1;
    }
    return from_names(std::span<const std::string_view>(names), std::move(where));
  }

  [[nodiscard]] std::size_t size() const { return slots_.size(); }
  /// Canonical slot of row i.
  [[nodiscard]] std::size_t slot(std::size_t i) const { return slots_[i]; }
  [[nodiscard]] std::span<const std::size_t> slots() const { return slots_; }
  [[nodiscard]] bool contains(std::size_t slot) const {
    return std::find(slots_.begin(), slots_.end(), slot) != slots_.end();
  }
  /// Bit l set = canonical lead l is in the set (the masking_policy convention).
  [[nodiscard]] std::uint32_t mask() const {
    std::uint32_t bits = 0;
    for (auto s : slots_) bits |= 1u << s;
    return bits;
  }
  /// Canonical names in row order.
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (auto s : slots_) out.emplace_back(canonical_lead_names[s]);
    return out;
  }
  /// "I,II,V2": parse(to_string()) gives the same set back.
  [[nodiscard]] std::string to_string() const {
    std::string out;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (i) out += ',';
      out += canonical_lead_names[slots_[i]];
    }
    return out;
  }
  friend bool operator==(const lead_set& a, const lead_set& b) { return a.slots_ == b.slots_; }

  /// Places x: [size(), samples] into out: [12, samples], other slots zero. `out` is resized
  /// only if its shape differs (no allocation in a loop that reuses it).
  template <class T>
  void place(const tensor<T, 2>& x, tensor<T, 2>& out) const {
    if (x.shape()[0] != size()) {
      throw shape_error(at_field("x"), "got " + std::to_string(x.shape()[0]) + " leads for lead set " +
                                           to_string(),
                        std::to_string(size()) + " leads, one row per lead of the set");
    }
    const std::size_t samples = x.shape()[1];
    if (out.shape()[0] != standard_lead_count || out.shape()[1] != samples) {
      out.resize({standard_lead_count, samples});
    }
    std::fill(out.begin(), out.end(), T(0));
    for (std::size_t i = 0; i < size(); ++i) {
      std::copy_n(x.data() + i * samples, samples, out.data() + slots_[i] * samples);
    }
  }
  template <class T>
  [[nodiscard]] tensor<T, 2> place(const tensor<T, 2>& x) const {
    tensor<T, 2> out;
    place(x, out);
    return out;
  }

  /// The rows of the set's leads from x12: [12, samples] -> [size(), samples].
  template <class T>
  [[nodiscard]] tensor<T, 2> select(const tensor<T, 2>& x12) const {
    require_shape(std::array<std::size_t, 1>{x12.shape()[0]},
                  std::array<std::size_t, 1>{standard_lead_count}, "x12 leads");
    const std::size_t samples = x12.shape()[1];
    tensor<T, 2> out = tensor<T, 2>::from_shape({size(), samples});
    for (std::size_t i = 0; i < size(); ++i) {
      std::copy_n(x12.data() + slots_[i] * samples, samples, out.data() + i * samples);
    }
    return out;
  }

  /// Zeroes, in place, every slot of x12: [12, samples] not in the set (P-N-lead evaluation).
  template <class T>
  void keep_only(tensor<T, 2>& x12) const {
    require_shape(std::array<std::size_t, 1>{x12.shape()[0]},
                  std::array<std::size_t, 1>{standard_lead_count}, "x12 leads");
    const std::size_t samples = x12.shape()[1];
    for (std::size_t l = 0; l < standard_lead_count; ++l) {
      if (!contains(l)) std::fill_n(x12.data() + l * samples, samples, T(0));
    }
  }

 private:
  void append(std::size_t slot, const error_location& where) {
    if (contains(slot)) {
      throw config_error(where, "lead " + std::string(canonical_lead_names[slot]) + " is listed twice",
                         "each lead at most once");
    }
    slots_.push_back(slot);
  }

  std::vector<std::size_t> slots_;
};

/// Re-derives the limb leads of x12: [12, samples] (canonical order) from I and II:
/// III = II - I, aVR = -(I + II)/2, aVL = I - II/2, aVF = II - I/2 (spec §7 Table 4 notes).
template <class T>
void derive_limb_leads(tensor<T, 2>& x12) {
  require_shape(std::array<std::size_t, 1>{x12.shape()[0]},
                std::array<std::size_t, 1>{standard_lead_count}, "x12 leads");
  const std::size_t n = x12.shape()[1];
  T* base = x12.data();
  const T* lead_i = base;
  const T* lead_ii = base + n;
  T* lead_iii = base + 2 * n;
  T* avr = base + 3 * n;
  T* avl = base + 4 * n;
  T* avf = base + 5 * n;
  for (std::size_t t = 0; t < n; ++t) {
    const T a = lead_i[t];
    const T b = lead_ii[t];
    lead_iii[t] = b - a;
    avr[t] = -(a + b) / T(2);
    avl[t] = a - b / T(2);
    avf[t] = b - a / T(2);
  }
}

}  // namespace ecgssl::io

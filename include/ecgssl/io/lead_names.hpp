#pragma once
/// \file lead_names.hpp
/// Names of the standard 12 ECG leads and their normalisation (spec §2.2 "Lead order": I, II,
/// III, aVR, aVL, aVF, V1..V6 = indices 0..11; spec §3.1 lead subsets are addressed by these
/// names).
///
/// Headers spell leads in many ways ("AVR", "avr", "aVR", "v1", " II "). A name is normalised by
/// trimming blanks and comparing case-insensitively with the 12 canonical names, so all of those
/// map to a canonical slot. Anything else ("MLII", "V", "ECG1", "Vx") stays a non-standard lead:
/// it keeps its (trimmed) spelling and has no canonical slot, because guessing would silently put
/// a modified lead (MLII is close to, but is not, lead II) into a standard slot.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "../core/error.hpp"
#include "detail/text.hpp"

namespace ecgssl::io {

/// Number of standard leads.
inline constexpr std::size_t standard_lead_count = 12;

/// The canonical spelling of the 12 leads, in canonical slot order (spec §2.2).
inline constexpr std::array<std::string_view, standard_lead_count> canonical_lead_names{
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"};


/// The canonical slot (0..11) of a lead name, or nothing for a non-standard lead.
/// Case and surrounding blanks are ignored: "AVR", "avr" and " aVR" are all slot 3.
[[nodiscard]] constexpr std::optional<std::size_t> standard_lead_index(std::string_view name) {
  const std::string_view trimmed = detail::trim(name);
  for (std::size_t i = 0; i < standard_lead_count; ++i) {
    if (detail::iequals(trimmed, canonical_lead_names[i])) return i;
  }
  return std::nullopt;
}

/// True if `name` is one of the 12 standard leads (in any case).
[[nodiscard]] constexpr bool is_standard_lead(std::string_view name) {
  return standard_lead_index(name).has_value();
}

/// The normalised spelling of a lead name: the canonical name for a standard lead, the trimmed
/// original for any other ("MLII" stays "MLII").
[[nodiscard]] inline std::string normalise_lead_name(std::string_view name) {
  if (const auto index = standard_lead_index(name)) return std::string(canonical_lead_names[*index]);
  return std::string(detail::trim(name));
}

/// "I, II, III, aVR, aVL, aVF, V1, V2, V3, V4, V5, V6" for error messages.
[[nodiscard]] inline std::string accepted_lead_names() {
  std::string out;
  for (std::size_t i = 0; i < standard_lead_count; ++i) {
    if (i) out += ", ";
    out += canonical_lead_names[i];
  }
  return out;
}

/// The canonical slot of a standard lead; throws config_error naming the unknown lead and the
/// accepted names otherwise. `where` says where the name came from (file, field).
[[nodiscard]] inline std::size_t lead_index(std::string_view name, error_location where = {}) {
  if (const auto index = standard_lead_index(name)) return *index;
  if (where.field.empty()) where.field = "lead";
  throw config_error(std::move(where), "unknown lead name '" + std::string(name) + "'",
                     "one of " + accepted_lead_names() + " (case-insensitive)");
}

}  // namespace ecgssl::io

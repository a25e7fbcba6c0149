#pragma once
// Shared helpers of the lead-masking policies.

#include <cstddef>
#include <cstdint>
#include <string>

#include "../../core/error.hpp"

namespace ecgssl::masking::detail {

/// Lead masks are 32-bit (masking_policy contract): more leads cannot be described.
inline std::size_t checked_lead_count(std::size_t leads) {
  if (leads > 32) {
    throw shape_error(at_field("x"), "a lead mask describes at most 32 leads, got " + std::to_string(leads),
                      "x: [leads <= 32, samples]");
  }
  return leads;
}

inline std::uint32_t all_leads(std::size_t leads) {
  return leads >= 32 ? 0xFFFFFFFFu : ((1u << leads) - 1u);
}

}  // namespace ecgssl::masking::detail

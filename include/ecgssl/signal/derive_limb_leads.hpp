#pragma once
/// \file derive_limb_leads.hpp
/// The limb-lead re-derivation of spec §7 Table 4 notes as a transform: III = II - I,
/// aVR = -(I + II)/2, aVL = I - II/2, aVF = II - I/2 on x: [12, samples] in canonical order.

#include "../core/concepts.hpp"
#include "../io/lead_set.hpp"

namespace ecgssl::signal {

/// Overwrites III, aVR, aVL, aVF with the values implied by I and II.
struct derive_limb_leads {
  void apply(tensor<float, 2>& x, signal_context&) const { io::derive_limb_leads(x); }
};

}  // namespace ecgssl::signal

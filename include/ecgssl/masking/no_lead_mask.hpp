#pragma once
/// \file no_lead_mask.hpp
/// The identity masking policy (fine-tuning and evaluation use no RLM, spec §3.2).

#include <cstdint>

#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "detail/lead_bits.hpp"

namespace ecgssl::masking {

/// Keeps every lead; models ecgssl::masking_policy.
struct no_lead_mask {
  std::uint32_t apply(tensor<float, 2>& x, const random_stream&) const {
    return detail::all_leads(detail::checked_lead_count(x.shape()[0]));
  }
};

}  // namespace ecgssl::masking

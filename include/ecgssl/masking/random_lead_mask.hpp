#pragma once
/// \file random_lead_mask.hpp
/// Random Lead Masking, RLM (spec §3.2; paper §3.2): for every lead l draw u_l ~ U(0, 1) and keep
/// the lead iff u_l >= p (p = 0.5); masked leads become exactly 0 and kept leads are not rescaled.
/// The draw uses the array's actual lead count (fairseq-signals issue #52: the reference hard-codes
/// 12), and every call is an independent draw, so the two segments of a CMSC pair get different
/// masks when given different streams. All leads masked (probability p^leads) is not prevented,
/// as in the reference.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "../core/error.hpp"
#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "detail/lead_bits.hpp"

namespace ecgssl::masking {

/// RLM policy; models ecgssl::masking_policy.
class random_lead_mask {
 public:
  /// `mask_probability` = p, the probability of masking each lead (spec: 0.5).
  explicit random_lead_mask(double mask_probability = 0.5) : p_(mask_probability) {
    if (!(p_ >= 0.0 && p_ <= 1.0)) {
      throw config_error(at_field("mask_leads_prob"), "got " + std::to_string(p_), "a probability in [0, 1]");
    }
  }

  /// x: [leads, samples]. Uses draws 0..leads-1 of `rng` (draw l decides lead l), so the caller
  /// picks the stream per segment, e.g. random_stream(seed, stream_id({rng_purpose::lead_mask,
  /// step, segment})). Returns the kept-lead bits (bit l = lead l kept).
  std::uint32_t apply(tensor<float, 2>& x, const random_stream& rng) const {
    const std::size_t leads = detail::checked_lead_count(x.shape()[0]);
    const std::size_t samples = x.shape()[1];
    std::uint32_t kept = 0;
    for (std::size_t l = 0; l < leads; ++l) {
      if (rng.uniform(l) >= p_) {
        kept |= 1u << l;
      } else {
        std::fill_n(x.data() + l * samples, samples, 0.0f);
      }
    }
    return kept;
  }

  [[nodiscard]] double mask_probability() const { return p_; }

 private:
  double p_;
};

}  // namespace ecgssl::masking

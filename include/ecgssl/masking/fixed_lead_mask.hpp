#pragma once
/// \file fixed_lead_mask.hpp
/// A fixed lead subset on 12-lead input: the leads outside the set are zeroed (the P-N-lead
/// evaluation of spec §3.1 / §7 Table 1: a 12-lead model fine-tuned on zero-padded subsets).

#include <cstdint>
#include <string_view>
#include <utility>

#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "../io/lead_set.hpp"

namespace ecgssl::masking {

/// Keeps the leads of a lead_set ("6", "3", "I,II,V2", ...); models ecgssl::masking_policy.
class fixed_lead_mask {
 public:
  explicit fixed_lead_mask(io::lead_set leads) : leads_(std::move(leads)) {}
  /// By lead-set name, see io::lead_set::parse.
  explicit fixed_lead_mask(std::string_view name) : leads_(io::lead_set::parse(name)) {}

  /// x: [12, samples] in canonical order; the random stream is not used.
  std::uint32_t apply(tensor<float, 2>& x, const random_stream&) const {
    leads_.keep_only(x);
    return leads_.mask();
  }

  [[nodiscard]] const io::lead_set& leads() const { return leads_; }

 private:
  io::lead_set leads_;
};

}  // namespace ecgssl::masking

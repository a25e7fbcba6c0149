#pragma once
/// \file common.hpp
/// Small helpers shared by the losses: the host-only guard, stable log-sum-exp and
/// error helpers. Internal.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <type_traits>

#include "../../core/backend.hpp"
#include "../../core/error.hpp"

namespace ecgssl::loss_detail {

/// The losses are written for the host; a cuda instantiation must fail to compile (never a
/// silent host fallback, DESIGN.md "Backends are type tags").
template <class B>
inline constexpr bool host_only_v = std::is_same_v<B, host>;

inline constexpr const char* missing_backend_message =
    "ecgssl: this operation has no specialisation for the requested backend "
    "(for cuda: include its <ecgssl/cuda/...cuh> header from a .cu file)";

/// log(sum_j exp(v_j)) over `v`, skipping -inf entries; -inf if all are -inf.
template <class T>
T log_sum_exp(std::span<const T> v) {
  T top = -std::numeric_limits<T>::infinity();
  for (T x : v) top = std::max(top, x);
  if (!std::isfinite(top)) return top;
  T sum = 0;
  for (T x : v) sum += std::exp(x - top);
  return top + std::log(sum);
}

/// Throws data_error when a value the loss depends on is NaN or infinite.
template <class T>
void require_finite(std::span<const T> values, const std::string& what) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw data_error(at_field(what), "non-finite value at flat index " + std::to_string(i),
                       "finite inputs");
    }
  }
}

}  // namespace ecgssl::loss_detail

#pragma once
/// \file backend.hpp
/// Backends are type tags. Components are written against `backend_traits<Backend>` and
/// specialised per backend; a component that has no specialisation for a backend fails to
/// compile (never a silent fallback to the host).

#include <type_traits>

namespace ecgssl {

/// Host CPU backend (Eigen + OpenMP).
struct host {
  static constexpr const char* name = "host";
};

/// NVIDIA GPU backend; its specialisations live in include/ecgssl/cuda/*.cuh.
struct cuda {
  static constexpr const char* name = "cuda";
};

template <class B>
inline constexpr bool is_backend_v = std::is_same_v<B, host> || std::is_same_v<B, cuda>;

template <class B>
concept backend = is_backend_v<B>;

/// Selects the implementation of operation `Op` for backend `B`; specialise it per backend.
/// The primary template is declared only, so there is no generic (host) fallback.
template <class Op, backend B>
struct implementation;

/// Whether `implementation<Op, B>` has been specialised (usable in `if constexpr`).
template <class Op, class B, class = void>
struct has_implementation : std::false_type {};
template <class Op, class B>
struct has_implementation<Op, B, std::void_t<decltype(sizeof(implementation<Op, B>))>>
    : std::true_type {};

/// The implementation to call. Asking for one that was never specialised is a compile error
/// that names the problem, never a silent fallback to another backend.
template <class Op, backend B>
struct select_implementation {
  static_assert(has_implementation<Op, B>::value,
                "ecgssl: this operation has no specialisation for the requested backend "
                "(for cuda: include its <ecgssl/cuda/...cuh> header from a .cu file)");
  using type = implementation<Op, B>;
};
template <class Op, backend B>
using implementation_t = typename select_implementation<Op, B>::type;

}  // namespace ecgssl

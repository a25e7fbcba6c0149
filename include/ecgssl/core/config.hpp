#pragma once
/// \file config.hpp
/// Compiler/backend configuration macros shared by host and CUDA code.

#include <cstdio>
#include <cstdlib>

#if defined(__CUDACC__)
#define ECGSSL_HOST_DEVICE __host__ __device__
#define ECGSSL_DEVICE __device__
#else
#define ECGSSL_HOST_DEVICE
#define ECGSSL_DEVICE
#endif

#if defined(_MSC_VER)
#define ECGSSL_RESTRICT __restrict
#else
#define ECGSSL_RESTRICT __restrict__
#endif

namespace ecgssl::detail {
[[noreturn]] inline void assertion_failed(const char* expr, const char* file, int line,
                                          const char* message) {
  std::fprintf(stderr, "ecgssl internal invariant violated: %s (%s) at %s:%d\n", expr, message,
               file, line);
  std::abort();
}
}  // namespace ecgssl::detail

/// Internal invariants only (bugs in ecgssl, not bad user input: that throws ecgssl::error).
/// Active in debug builds, or when ECGSSL_ENABLE_ASSERTS is defined.
#if !defined(NDEBUG) || defined(ECGSSL_ENABLE_ASSERTS)
#define ECGSSL_ASSERT(expr, message)                                                   \
  ((expr) ? static_cast<void>(0)                                                       \
          : ::ecgssl::detail::assertion_failed(#expr, __FILE__, __LINE__, (message)))
#else
#define ECGSSL_ASSERT(expr, message) static_cast<void>(0)
#endif

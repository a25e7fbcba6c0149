#pragma once
/// \file version.hpp
/// The one place the ecgssl version is written; CMake, Conan and vcpkg parse it from here.

#define ECGSSL_VERSION_MAJOR 0
#define ECGSSL_VERSION_MINOR 1
#define ECGSSL_VERSION_PATCH 0
#define ECGSSL_VERSION_STRING "0.1.0"

namespace ecgssl {
/// Version of the headers this translation unit was compiled against.
struct version_info {
  int major;
  int minor;
  int patch;
  const char* string;
};
inline constexpr version_info version{ECGSSL_VERSION_MAJOR, ECGSSL_VERSION_MINOR,
                                      ECGSSL_VERSION_PATCH, ECGSSL_VERSION_STRING};
}  // namespace ecgssl

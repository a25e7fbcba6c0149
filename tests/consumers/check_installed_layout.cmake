# The installed tree has the documented layout: headers, the arch-independent CMake package, .pc.
foreach(f include/ecgssl/ecgssl.hpp include/ecgssl/version.hpp
          share/cmake/ecgssl/ecgsslConfig.cmake share/cmake/ecgssl/ecgsslConfigVersion.cmake
          share/cmake/ecgssl/ecgsslTargets.cmake share/pkgconfig/ecgssl.pc)
  if(NOT EXISTS ${PREFIX}/${f})
    message(FATAL_ERROR "installed tree lacks ${f}")
  endif()
endforeach()
file(READ ${PREFIX}/share/cmake/ecgssl/ecgsslConfigVersion.cmake _version_file)
# CMake writes an unconditional early return before the 32/64-bit check when ARCH_INDEPENDENT.
if(NOT _version_file MATCHES "no architecture check[^\n]*\nif\\(\"TRUE\"\\)")
  message(FATAL_ERROR "ecgsslConfigVersion.cmake is not ARCH_INDEPENDENT")
endif()

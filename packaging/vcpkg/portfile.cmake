# vcpkg port of ecgssl (header-only). Use as an overlay port:
#   vcpkg install ecgssl --overlay-ports=<ecgssl checkout>/packaging/vcpkg
# ECGSSL_SOURCE_DIR (environment) names the ecgssl checkout to package: the project publishes
# no release archive yet, so the port builds from a local tree.
if(NOT DEFINED ENV{ECGSSL_SOURCE_DIR})
  message(FATAL_ERROR "ecgssl port: set ECGSSL_SOURCE_DIR to an ecgssl checkout "
                      "(e.g. ECGSSL_SOURCE_DIR=$HOME/src/ecgssl vcpkg install ecgssl --overlay-ports=...)")
endif()
set(SOURCE_PATH "$ENV{ECGSSL_SOURCE_DIR}")

# Feature "onednn": bf16 products on oneDNN's kernels; without it they run as float32 GEMMs of
# bf16-rounded operands (same results up to summation order, slower on AMX/AVX512-BF16 CPUs).
vcpkg_check_features(OUT_FEATURE_OPTIONS feature_options FEATURES onednn ECGSSL_WITH_ONEDNN)

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    ${feature_options}
    -DECGSSL_BUILD_TESTS=OFF
    -DECGSSL_BUILD_EXAMPLES=OFF
    -DECGSSL_BUILD_APP=OFF
    -DECGSSL_BUILD_BENCHMARKS=OFF
    -DECGSSL_WITH_CUDA=OFF
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/ecgssl)
vcpkg_fixup_pkgconfig()

# Header-only: nothing is built per configuration.
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug" "${CURRENT_PACKAGES_DIR}/lib")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")

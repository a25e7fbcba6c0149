#!/usr/bin/env bash
# ctest packaging/vcpkg_port: runs the port's configure/install/fixup steps into a staging prefix
# laid out as vcpkg's installed/<triplet>, then builds and runs a consumer against that prefix.
set -euo pipefail
source=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
staging="$work/installed/x64-linux"
ECGSSL_SOURCE_DIR="$source" cmake -DPORT=ecgssl -DVERSION="$(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$source/packaging/vcpkg/vcpkg.json")" \
  -DCURRENT_PACKAGES_DIR="$staging" -DCURRENT_BUILDTREES_DIR="$work/buildtrees" \
  -DPORTFILE="$source/packaging/vcpkg/portfile.cmake" -P "$source/packaging/vcpkg/test/vcpkg_shim.cmake"
for f in share/ecgssl/ecgsslConfig.cmake share/ecgssl/ecgsslTargets.cmake share/ecgssl/copyright \
         share/ecgssl/usage include/ecgssl/ecgssl.hpp; do
  test -f "$staging/$f" || { echo "staging prefix lacks $f" >&2; exit 1; }
done
test ! -d "$staging/share/cmake" || { echo "config files were not moved to share/ecgssl" >&2; exit 1; }
# The manifest's version must follow version.hpp.
header_version=$(sed -n 's/#define ECGSSL_VERSION_STRING "\(.*\)"/\1/p' "$source/include/ecgssl/version.hpp")
grep -q "\"version\": \"$header_version\"" "$source/packaging/vcpkg/vcpkg.json" \
  || { echo "vcpkg.json version differs from version.hpp ($header_version)" >&2; exit 1; }
cmake -DROUTE=find_package -DSOURCE="$source" -DWORK="$work/consumer" -DPREFIX="$staging" \
  -P "$source/tests/consumers/run_consumer.cmake"

#!/usr/bin/env bash
# ctest packaging/conan_create: `conan create` of the recipe with its test_package, in a private
# CONAN_HOME, against a profile that takes Eigen and xtensor from the system. Exit 77 = skipped.
set -euo pipefail
source=$1 work=$2
if ! command -v conan >/dev/null 2>&1; then
  echo "SKIP: conan is not installed (scripts/install-deps.sh installs it)"; exit 77
fi
rm -rf "$work" && mkdir -p "$work"
export CONAN_HOME="$work/conan-home"
# Work on a copy so the test_package build folder never lands in the source tree.
mkdir -p "$work/tree/packaging"
cp -r "$source/packaging/conan" "$work/tree/packaging/conan"
cp -r "$source/include" "$work/tree/include"
cp "$source/LICENSE" "$work/tree/LICENSE"
conan profile detect --name default >/dev/null
conan create "$work/tree/packaging/conan" --profile:all "$work/tree/packaging/conan/test/system-deps.profile" \
  --build=missing --no-remote 2>&1 | tail -n 40

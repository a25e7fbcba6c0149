#!/usr/bin/env bash
# The test command (README and .ci/run call exactly this): builds and runs the whole suite in
# the default preset (RelWithDebInfo; CUDA translation units too when nvcc is present), then
# again under AddressSanitizer + UndefinedBehaviorSanitizer, then each libFuzzer target for a
# bounded time (ECGSSL_FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${ECGSSL_JOBS:-$(nproc)}
# Let ccache reuse objects compiled in another checkout of the same sources (paths relative to
# the checkout; the build directory is not part of the hash).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-20G}

echo "== default preset: configure, build, test"
cmake --preset default
cmake --build --preset default -j "$jobs"
ctest --preset default

echo "== sanitize preset (ASan + UBSan): configure, build, test"
cmake --preset sanitize
cmake --build --preset sanitize -j "$jobs"
# The whole suite except the consumer/packaging tests (those build their own programs with the
# default flags; the preset excludes their label). ECGSSL_SANITIZE_LABELS narrows it (a ctest
# label regex) when iterating locally.
ctest --preset sanitize ${ECGSSL_SANITIZE_LABELS:+-L "$ECGSSL_SANITIZE_LABELS"}

echo "== fuzzers (libFuzzer, clang, ASan + UBSan): ${ECGSSL_FUZZ_SECONDS:-60} s per target"
bash fuzz/run.sh "${ECGSSL_FUZZ_SECONDS:-60}" build/fuzz

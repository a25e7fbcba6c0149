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

# Each stage prints its wall time, and a summary closes the run (the CI budget is 45 minutes on
# a cold 2-core machine: docs/testing.md says where the time goes and how to run one area).
run_start=$(date +%s)
stage_start=$run_start
stage_times=()
stage() {
  local now
  now=$(date +%s)
  if [ -n "${stage_name:-}" ]; then
    stage_times+=("$(printf '%5d s  %s' $((now - stage_start)) "$stage_name")")
    echo "== ${stage_name}: $((now - stage_start)) s"
  fi
  stage_name="$1"
  stage_start=$now
  [ -n "$stage_name" ] && echo "== $stage_name"
  return 0
}
summary() {
  stage ""
  echo "== stage times"
  printf '%s\n' "${stage_times[@]}"
  echo "== total: $(( $(date +%s) - run_start )) s"
}
trap summary EXIT

stage "default preset: configure"
cmake --preset default
stage "default preset: build"
cmake --build --preset default -j "$jobs"
stage "default preset: test"
ctest --preset default

stage "sanitize preset (ASan + UBSan): configure"
cmake --preset sanitize
stage "sanitize preset: build"
cmake --build --preset sanitize -j "$jobs"
stage "sanitize preset: test"
# The whole suite except the consumer/packaging tests (those build their own programs with the
# default flags; the preset excludes their label). ECGSSL_SANITIZE_LABELS narrows it (a ctest
# label regex) when iterating locally.
ctest --preset sanitize ${ECGSSL_SANITIZE_LABELS:+-L "$ECGSSL_SANITIZE_LABELS"}

stage "fuzzers (libFuzzer, clang, ASan + UBSan): build, then ${ECGSSL_FUZZ_SECONDS:-60} s per target"
bash fuzz/run.sh "${ECGSSL_FUZZ_SECONDS:-60}" build/fuzz

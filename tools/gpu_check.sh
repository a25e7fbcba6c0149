#!/usr/bin/env bash
# The checks that need a GPU, as one script (issue 8): builds the CUDA test program and the GPU
# benchmark, runs the CUDA-vs-host parity tests, then times the base transformer stack's training
# step in ecgssl and in PyTorch on the same GPU.
#
#   bash tools/gpu_check.sh [OUTPUT_DIR]            # logs and JSON results land in OUTPUT_DIR
#
# Environment:
#   ECGSSL_DEPS_PREFIX   a prefix holding Eigen, xtensor, xtl, xsimd, nlohmann_json, doctest and
#                        Google Benchmark (headers + CMake packages) when the machine has none
#                        installed, e.g. the packages' files unpacked under one folder
#   ECGSSL_CUDA_ARCH     CMAKE_CUDA_ARCHITECTURES (default: the first device's, else 80;90)
#   ECGSSL_GPU_BENCH     0 skips the benchmark
#   ECGSSL_GPU_ISOLATED  1 also runs every test case in a process of its own after a clean run
#   ECGSSL_GPU_PREBUILT  a folder holding an ecgssl_tests_gpu built elsewhere (same CUDA major
#                        version): no configure or build, only the tests run (implies no benchmark)
# Every step runs even when an earlier one failed; the exit status is the first failure's.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check}
mkdir -p "$out"
status=0
step() {  # step NAME COMMAND...: runs COMMAND, logs it to $out/NAME.log, remembers a failure
  local name=$1
  shift
  echo "== $name: $*"
  local start=$SECONDS
  "$@" > "$out/$name.log" 2>&1
  local rc=$?
  tail -n 40 "$out/$name.log"
  echo "== $name: rc $rc in $((SECONDS - start)) s"
  if [ $rc -ne 0 ] && [ $status -eq 0 ]; then status=$rc; fi
  return $rc
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
nvcc --version | tail -n 2 || true
"${CXX:-g++}" --version | head -n 1 || true
cmake --version | head -n 1 || true

arch=${ECGSSL_CUDA_ARCH:-}
if [ -z "$arch" ]; then
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '.')
  arch=${arch:-80;90}
fi
configure=(cmake -S . -B build/gpu-check -G Ninja -DCMAKE_BUILD_TYPE=Release
  -DECGSSL_WITH_CUDA=ON -DECGSSL_GPU_PROGRAMS=ON "-DCMAKE_CUDA_ARCHITECTURES=$arch" -DECGSSL_BUILD_EXAMPLES=OFF
  -DECGSSL_BUILD_TESTS=ON -DECGSSL_BUILD_BENCHMARKS=ON
  # Some packages' CMake files predate CMake 3.5, which CMake 4 no longer accepts by default.
  -DCMAKE_POLICY_VERSION_MINIMUM=3.5)
if [ -n "${ECGSSL_DEPS_PREFIX:-}" ]; then
  prefix=$(cd "$ECGSSL_DEPS_PREFIX" && pwd)
  configure+=("-DCMAKE_PREFIX_PATH=$prefix/usr;$prefix/usr/share;$prefix/usr/lib/x86_64-linux-gnu/cmake"
    "-DCMAKE_LIBRARY_PATH=$prefix/usr/lib/x86_64-linux-gnu")
  export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -n "${ECGSSL_GPU_PREBUILT:-}" ]; then
  gpu_tests=$ECGSSL_GPU_PREBUILT/ecgssl_tests_gpu
  ECGSSL_GPU_BENCH=0
else
  step configure "${configure[@]}" || exit $status
  step build cmake --build build/gpu-check -j "$(nproc)" \
    --target ecgssl_tests_gpu ecgssl_bench_cuda_transformer || exit $status
  gpu_tests=build/gpu-check/tests/cuda/ecgssl_tests_gpu
fi
step gpu_tests "$gpu_tests" --duration=true
whole_program=$?
# A CUDA fault is sticky: it fails every later test in the same process. So when the whole
# program failed, each test case runs again in a process of its own, and the first three failing
# ones once more under compute-sanitizer (memcheck), which names the kernel and the bad address.
# ECGSSL_GPU_ISOLATED=1 runs them isolated even after a clean whole-program run.
isolated() {
  local failed=0 sanitized=0 name filter
  while IFS= read -r name; do
    # doctest splits filters at commas; '?' matches any one character.
    filter=${name//,/?}
    if "$gpu_tests" -tc="$filter" > "$out/case.log" 2>&1; then
      echo "PASS  $name"
    else
      echo "FAIL  $name"
      cat "$out/case.log"
      failed=1
      if [ $sanitized -lt 3 ] && command -v compute-sanitizer > /dev/null; then
        sanitized=$((sanitized + 1))
        compute-sanitizer --tool memcheck --print-limit 5 "$gpu_tests" -tc="$filter" 2>&1 | head -n 60
      fi
    fi
  done < <("$gpu_tests" --list-test-cases --no-version 2>/dev/null | grep -v '^\[doctest\]' | grep -v '^=*$' | sed 's/^ *//')
  return $failed
}
if [ $whole_program -ne 0 ] || [ "${ECGSSL_GPU_ISOLATED:-0}" = 1 ]; then
  step gpu_tests_isolated isolated
fi

if [ "${ECGSSL_GPU_BENCH:-1}" != 0 ]; then
  py=${PYTHON:-python3}
  for shape in "8 156" "32 156"; do
    set -- $shape
    step "bench_b$1_t$2" "$py" benchmarks/compare_pytorch_cuda.py --batch "$1" --time "$2" \
      --bench build/gpu-check/benchmarks/ecgssl_bench_cuda_transformer --iters 20 --warmup 3
  done
fi
echo "gpu_check: exit status $status"
exit $status

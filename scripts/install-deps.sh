#!/usr/bin/env bash
# Installs every system dependency of ecgssl on a fresh Debian 12 machine (run as root).
# Idempotent: re-running it only re-checks what is already there.
#   bash scripts/install-deps.sh            # build + test dependencies
#   ECGSSL_DEPS_PYTHON=0 bash ...           # skip the Python tools (fixture generation, Conan)
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (it calls apt-get install)" >&2
  exit 1
fi

apt_packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libeigen3-dev xtensor-dev xtl-dev libxsimd-dev
  doctest-dev libbenchmark-dev libopenblas-dev nlohmann-json3-dev libcli11-dev
  libopenmpi-dev openmpi-bin
  libdnnl-dev ocl-icd-opencl-dev
  clang libclang-rt-14-dev
  python3
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "${ECGSSL_DEPS_PYTHON:-1}" = "1" ]; then
  # Conan drives the packaging test; wfdb/torch only regenerate fixtures (tools/), not needed to test.
  py=python3
  if ! "$py" -c "import conans" 2>/dev/null; then
    "$py" -m pip install --quiet --disable-pip-version-check "conan>=2,<3" 2>/dev/null \
      || "$py" -m pip install --quiet --disable-pip-version-check --break-system-packages "conan>=2,<3"
  fi
fi
echo "install-deps.sh: all dependencies present"

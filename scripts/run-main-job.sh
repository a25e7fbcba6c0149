#!/usr/bin/env bash
# The main job: builds the `ecgssl` command (Release) and runs it on the bundled real ECG records.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${ECGSSL_JOBS:-$(nproc)}
echo "== building the ecgssl command (preset 'app')"
cmake --preset app >/dev/null
cmake --build --preset app -j "$jobs" --target ecgssl_cli
ecgssl=./build/app/bin/ecgssl
$ecgssl version

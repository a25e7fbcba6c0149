#!/usr/bin/env bash
# Builds the consumer with nothing but pkg-config flags from an installed prefix.
set -euo pipefail
prefix=$1 work=$2 source=$3
rm -rf "$work" && mkdir -p "$work"
export PKG_CONFIG_PATH="$prefix/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --exists --print-errors ecgssl
# shellcheck disable=SC2046
"${CXX:-c++}" -O1 "$source/tests/consumers/src/consumer.cpp" $(pkg-config --cflags --libs ecgssl) -o "$work/consumer"
"$work/consumer"

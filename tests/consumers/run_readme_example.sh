#!/usr/bin/env bash
# Extracts the first ```cpp block of README.md, then compiles and runs it against the source tree,
# so the README's usage example can never stop compiling.
set -euo pipefail
source=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
awk '/^```cpp$/{on=1; next} /^```$/{if(on){exit}} on{print}' "$source/README.md" > "$work/readme_example.cpp"
test -s "$work/readme_example.cpp" || { echo "README.md has no \`\`\`cpp block" >&2; exit 1; }
"${CXX:-c++}" -std=c++20 -O1 -fopenmp -I"$source/include" $(pkg-config --cflags eigen3 xtensor nlohmann_json) \
  "$work/readme_example.cpp" -o "$work/readme_example"
"$work/readme_example"

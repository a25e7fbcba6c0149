// The option and size cases of the NT-Xent and ArcFace checks, shared by the host replays of
// their CUDA math (test_nt_xent_math.cpp, test_arcface_math.cpp) and the GPU parity tests
// (test_gpu_id_losses.cu), so both cover the same pairings, norm modes and margin branches.
// Plain C++: g++ and nvcc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <ecgssl/loss/arcface.hpp>
#include <ecgssl/loss/nt_xent.hpp>

namespace gpu_test {

/// check(rows, dim, identities (empty: the pairing rule), options, seed) for both pairings and
/// identities (a group of three, pairs and a row without positive), each with a detached and a
/// differentiated norm. The callers zero row 1, so norm_eps 1e-3 exercises the eps branch.
template <class Check>
void nt_xent_small_cases(Check&& check) {
  for (const bool detach : {true, false}) {
    ecgssl::nt_xent_options options;
    options.detach_norm = detach;
    check(8, 5, std::vector<std::int64_t>{}, options, 1);  // halves
    options.pairing = ecgssl::nt_xent_pairing::adjacent;
    options.temperature = 0.5;
    check(10, 7, std::vector<std::int64_t>{}, options, 3);
    options.temperature = 0.2;
    options.norm_eps = 1e-3;
    check(9, 6, std::vector<std::int64_t>{4, 4, 9, 4, 1, 9, 1, 12, 2}, options, 5);
  }
}

/// A realistic SimCLR batch (32 pairs x 256 dims) and sizes past the kernels' 256 lanes.
template <class Check>
void nt_xent_large_cases(Check&& check) {
  ecgssl::nt_xent_options options;
  check(64, 256, std::vector<std::int64_t>{}, options, 11);
  options.detach_norm = false;
  options.pairing = ecgssl::nt_xent_pairing::adjacent;
  check(300, 260, std::vector<std::int64_t>{}, options, 13);
  std::vector<std::int64_t> ids(270);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>(i % 100);
  check(270, 3, ids, options, 15);
}

/// check(batch, classes, dim, options, seed): the spec's s = 192, m = 1, a smaller margin, no
/// margin with a large eps, and a realistic size past 256 lanes (300 patients, 256 dims).
template <class Check>
void arcface_cases(Check&& check) {
  check(6, 5, 8, ecgssl::arcface_options{}, 1);
  ecgssl::arcface_options options;
  options.scale = 30.0;
  options.margin = 0.5;
  check(9, 4, 12, options, 3);
  options.scale = 16.0;
  options.margin = 0.0;
  options.norm_eps = 1e-2;
  check(5, 7, 3, options, 5);
  options.scale = 64.0;
  options.margin = 0.3;
  options.norm_eps = 1e-12;
  check(32, 300, 256, options, 7);
}

}  // namespace gpu_test

#pragma once
// Lead <-> vectorcardiogram matrices of the 3KG augmentation (spec §4.5). Internal: use
// ecgssl::signal::vcg_augmentation. Leads are the eight independent ones, in the order
// I, II, V1, V2, V3, V4, V5, V6; VCG axes are Frank's X, Y, Z.

#include <array>
#include <cstddef>

namespace ecgssl::signal::detail {

using vcg_forward_matrix = std::array<std::array<double, 8>, 3>;  // [axis][lead]: v = T x8
using vcg_back_matrix = std::array<std::array<double, 3>, 8>;     // [lead][axis]: x8 = B v

/// Rows of the 12-lead array [I, II, III, aVR, aVL, aVF, V1..V6] that the matrices use.
inline constexpr std::array<std::size_t, 8> vcg_independent_leads{0, 1, 6, 7, 8, 9, 10, 11};

/// Inverse Dower matrix: Edenbrandt L, Pahlm O. "Vectorcardiogram synthesized from a 12-lead
/// ECG: superiority of the inverse Dower matrix." J Electrocardiol 1988;21(4):361-367 (the
/// published three-decimal values; fairseq-signals' 3kg dataset uses a variant that differs in
/// the third decimal, the truncated pseudo-inverse of the Dower matrix).
inline constexpr vcg_forward_matrix inverse_dower_matrix{{
    {0.156, -0.010, -0.172, -0.074, 0.122, 0.231, 0.239, 0.194},
    {-0.227, 0.887, 0.057, -0.019, -0.106, -0.022, 0.041, 0.048},
    {0.022, 0.102, -0.229, -0.310, -0.246, -0.063, 0.055, 0.108},
}};

/// Kors regression matrix: Kors JA, van Herpen G, Sittig AC, van Bemmel JH. "Reconstruction of
/// the Frank vectorcardiogram from standard electrocardiographic leads: diagnostic comparison of
/// different methods." Eur Heart J 1990;11(12):1083-1092.
inline constexpr vcg_forward_matrix kors_matrix{{
    {0.38, -0.07, -0.13, 0.05, -0.01, 0.14, 0.06, 0.54},
    {-0.07, 0.93, 0.06, -0.02, -0.05, 0.06, -0.17, 0.13},
    {0.11, -0.23, -0.43, -0.06, -0.14, -0.20, -0.11, 0.31},
}};

/// Dower matrix (leads from X, Y, Z): Dower GE, Machado HB, Osborne JA. "On deriving the
/// electrocardiogram from vectorcardiographic leads." Clin Cardiol 1980;3(2):87-95.
inline constexpr vcg_back_matrix dower_matrix{{
    {0.632, -0.235, 0.059},   // I
    {0.235, 1.066, -0.132},   // II
    {-0.515, 0.157, -0.917},  // V1
    {0.044, 0.164, -1.387},   // V2
    {0.882, 0.098, -1.277},   // V3
    {1.213, 0.127, -0.601},   // V4
    {1.125, 0.127, -0.086},   // V5
    {0.831, 0.076, 0.230},    // V6
}};

/// Moore-Penrose pseudo-inverse of a full-row-rank 3x8 matrix: Tᵀ (T Tᵀ)⁻¹, so T·pinv(T) = I.
inline vcg_back_matrix pseudo_inverse(const vcg_forward_matrix& t) {
  std::array<std::array<double, 3>, 3> g{};  // T Tᵀ
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      for (std::size_t k = 0; k < 8; ++k) g[i][j] += t[i][k] * t[j][k];
    }
  }
  const double det = g[0][0] * (g[1][1] * g[2][2] - g[1][2] * g[2][1]) -
                     g[0][1] * (g[1][0] * g[2][2] - g[1][2] * g[2][0]) +
                     g[0][2] * (g[1][0] * g[2][1] - g[1][1] * g[2][0]);
  std::array<std::array<double, 3>, 3> inv{};
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      // inverse = adjugate / det; adj[i][j] = cofactor[j][i]
      const std::size_t r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
      inv[i][j] = (g[r0][c0] * g[r1][c1] - g[r0][c1] * g[r1][c0]) / det;
    }
  }
  vcg_back_matrix b{};
  for (std::size_t k = 0; k < 8; ++k) {
    for (std::size_t j = 0; j < 3; ++j) {
      for (std::size_t i = 0; i < 3; ++i) b[k][j] += t[i][k] * inv[i][j];
    }
  }
  return b;
}

}  // namespace ecgssl::signal::detail

#pragma once
/// \file vcg_augmentation.hpp
/// The spatial augmentation of 3KG (spec §4.5; Gopal et al., "3KG: Contrastive learning of
/// 12-lead electrocardiograms using physiologically-inspired augmentations", ML4H 2021):
/// the eight independent leads x8 = (I, II, V1..V6) become a vectorcardiogram v = T x8, which is
/// rotated and scaled in 3-D and projected back, x8' = B S R v; III, aVR, aVL, aVF are then
/// re-derived from I' and II'.
///
/// Reading of the reference (fairseq-signals `_3KGECGDataset.perturb`, config angle 45,
/// scale 1.5, mask_ratio 0.5), which this transform follows:
///  - T = inverse Dower matrix (Edenbrandt & Pahlm 1988) by default, or Kors' (1990) matrix;
///    B = the pseudo-inverse of T (the reference's `np.linalg.pinv(D_i)`), which for the inverse
///    Dower matrix reproduces Dower's (1980) matrix to 0.0033; the literal Dower matrix is an
///    option. Since B T is a rank-3 projection, rotation 0 and scale 1 do NOT return the input:
///    they return its projection onto the VCG subspace (tested against numpy).
///  - R = Rx(γ) Ry(β) Rz(α): scipy's `Rotation.from_euler('zyx', (α, β, γ), degrees=True)`
///    (extrinsic: about z by α, then the fixed y by β, then the fixed x by γ), each angle
///    ~ U(-45°, 45°).
///  - S = diag(s_x, s_y, s_z), each ~ U(1, 1.5) (the reference's `uniform(1, scale)`; not
///    [1/1.5, 1.5]). Order: rotate, then scale.
///  - mask_ratio 0.5 is a per-lead *time* mask applied afterwards (random_time_mask.hpp), not a
///    lead mask: the reference's help text reads "ratio of random time masking for each lead".
///
/// Draws (sub-stream of ctx.rng tagged "vcg"): uniform 0, 1, 2 = angles about z, y, x;
/// uniform 3, 4, 5 = scales of x, y, z.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <string>

#include "../core/concepts.hpp"
#include "../core/error.hpp"
#include "../io/lead_set.hpp"
#include "detail/vcg_matrices.hpp"

namespace ecgssl::signal {

/// Which matrix maps the eight independent leads to X, Y, Z.
enum class vcg_reconstruction { inverse_dower, kors };
/// Which matrix maps X, Y, Z back to the leads.
enum class vcg_back_projection {
  pseudo_inverse,  ///< pinv of the forward matrix (the reference)
  dower,           ///< Dower's published matrix
};

struct vcg_augmentation_options {
  double max_angle_degrees = 45.0;  ///< each Euler angle ~ U(-max, max)
  double max_scale = 1.5;           ///< each axis scale ~ U(1, max)
  vcg_reconstruction reconstruction = vcg_reconstruction::inverse_dower;
  vcg_back_projection back_projection = vcg_back_projection::pseudo_inverse;

  void validate() const {
    if (!(max_angle_degrees >= 0.0 && max_angle_degrees <= 180.0)) {
      throw config_error(at_field("angle"), std::to_string(max_angle_degrees), "an angle in [0, 180] degrees (3KG: 45)");
    }
    if (!(max_scale >= 1.0 && std::isfinite(max_scale))) {
      throw config_error(at_field("scale"), std::to_string(max_scale), "a finite scale >= 1 (3KG: 1.5)");
    }
  }
};

/// One draw of the augmentation.
struct vcg_parameters {
  std::array<double, 3> angles_degrees{0.0, 0.0, 0.0};  ///< about z, y, x (applied in that order)
  std::array<double, 3> scales{1.0, 1.0, 1.0};          ///< of X, Y, Z
};

/// 3KG's VCG rotation and scaling of x: [12, samples] in canonical lead order; a signal_transform.
class vcg_augmentation {
 public:
  explicit vcg_augmentation(vcg_augmentation_options options = {}) : options_(options) {
    options_.validate();
    forward_ = options_.reconstruction == vcg_reconstruction::kors ? detail::kors_matrix : detail::inverse_dower_matrix;
    back_ = options_.back_projection == vcg_back_projection::dower ? detail::dower_matrix : detail::pseudo_inverse(forward_);
  }

  /// The parameters the stream `rng` gives (the draws listed in the file comment).
  [[nodiscard]] vcg_parameters draw(const random_stream& rng) const {
    const random_stream r(rng.seed(), stream_id({rng.stream(), stream_tag}));
    vcg_parameters p;
    const double a = options_.max_angle_degrees;
    for (std::size_t i = 0; i < 3; ++i) p.angles_degrees[i] = -a + 2.0 * a * r.uniform(i);
    for (std::size_t i = 0; i < 3; ++i) p.scales[i] = 1.0 + (options_.max_scale - 1.0) * r.uniform(3 + i);
    return p;
  }

  void apply(tensor<float, 2>& x, signal_context& ctx) const { transform(x, draw(ctx.rng)); }

  /// The augmentation with given parameters: x8 <- B S R T x8, then the limb leads re-derived.
  void transform(tensor<float, 2>& x, const vcg_parameters& p) const {
    if (x.shape()[0] != io::standard_lead_count) {
      throw shape_error(at_field("x"), "got " + std::to_string(x.shape()[0]) + " leads",
                        "x: [12, samples] in the order I, II, III, aVR, aVL, aVF, V1..V6 (the VCG of 3KG needs "
                        "the 12 standard leads)");
    }
    const auto m = lead_map(p);
    const std::size_t n = x.shape()[1];
    float* base = x.data();
    std::array<double, 8> in{};
    for (std::size_t t = 0; t < n; ++t) {
      for (std::size_t k = 0; k < 8; ++k) in[k] = base[detail::vcg_independent_leads[k] * n + t];
      for (std::size_t k = 0; k < 8; ++k) {
        double acc = 0.0;
        for (std::size_t j = 0; j < 8; ++j) acc += m[k][j] * in[j];
        base[detail::vcg_independent_leads[k] * n + t] = static_cast<float>(acc);
      }
    }
    io::derive_limb_leads(x);
  }

  /// The 8x8 map B S R T on (I, II, V1..V6) for parameters p.
  [[nodiscard]] std::array<std::array<double, 8>, 8> lead_map(const vcg_parameters& p) const {
    const auto r = rotation(p.angles_degrees);
    std::array<std::array<double, 8>, 3> srt{};  // S R T
    for (std::size_t i = 0; i < 3; ++i) {
      for (std::size_t k = 0; k < 8; ++k) {
        double acc = 0.0;
        for (std::size_t j = 0; j < 3; ++j) acc += r[i][j] * forward_[j][k];
        srt[i][k] = p.scales[i] * acc;
      }
    }
    std::array<std::array<double, 8>, 8> m{};
    for (std::size_t a = 0; a < 8; ++a) {
      for (std::size_t k = 0; k < 8; ++k) {
        for (std::size_t i = 0; i < 3; ++i) m[a][k] += back_[a][i] * srt[i][k];
      }
    }
    return m;
  }

  /// R = Rx(γ) Ry(β) Rz(α) for angles (α about z, β about y, γ about x) in degrees.
  [[nodiscard]] static std::array<std::array<double, 3>, 3> rotation(const std::array<double, 3>& angles_degrees) {
    const double to_rad = std::numbers::pi / 180.0;
    const double ca = std::cos(angles_degrees[0] * to_rad), sa = std::sin(angles_degrees[0] * to_rad);
    const double cb = std::cos(angles_degrees[1] * to_rad), sb = std::sin(angles_degrees[1] * to_rad);
    const double cg = std::cos(angles_degrees[2] * to_rad), sg = std::sin(angles_degrees[2] * to_rad);
    const std::array<std::array<double, 3>, 3> rz{{{ca, -sa, 0.0}, {sa, ca, 0.0}, {0.0, 0.0, 1.0}}};
    const std::array<std::array<double, 3>, 3> ry{{{cb, 0.0, sb}, {0.0, 1.0, 0.0}, {-sb, 0.0, cb}}};
    const std::array<std::array<double, 3>, 3> rx{{{1.0, 0.0, 0.0}, {0.0, cg, -sg}, {0.0, sg, cg}}};
    return multiply(rx, multiply(ry, rz));
  }

  [[nodiscard]] const detail::vcg_forward_matrix& forward_matrix() const { return forward_; }
  [[nodiscard]] const detail::vcg_back_matrix& back_matrix() const { return back_; }
  [[nodiscard]] const vcg_augmentation_options& options() const { return options_; }

  /// Tag mixed into ctx.rng's stream for this transform's draws.
  static constexpr std::uint64_t stream_tag = 0x3b47'0001;

 private:
  using mat3 = std::array<std::array<double, 3>, 3>;
  static mat3 multiply(const mat3& a, const mat3& b) {
    mat3 c{};
    for (std::size_t i = 0; i < 3; ++i) {
      for (std::size_t j = 0; j < 3; ++j) {
        for (std::size_t k = 0; k < 3; ++k) c[i][j] += a[i][k] * b[k][j];
      }
    }
    return c;
  }

  vcg_augmentation_options options_;
  detail::vcg_forward_matrix forward_{};
  detail::vcg_back_matrix back_{};
};

}  // namespace ecgssl::signal

// Tests of signal/vcg_augmentation.hpp (3KG's VCG rotation and scaling, spec §4.5). Expected
// outputs on a real segment come from numpy + scipy (tools/make_vcg_fixtures.py); the matrix
// values are checked against the published tables.
#include <ecgssl/signal/vcg_augmentation.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "support/npy.hpp"

using namespace ecgssl;
using namespace ecgssl::signal;

static_assert(signal_transform<vcg_augmentation>);

namespace {

const std::string fixture_dir = std::string(ECGSSL_TEST_DATA_DIR) + "/signal/";

tensor<float, 2> load(const std::string& name) {
  const auto a = testing::read_npy(fixture_dir + name);
  REQUIRE(a.shape.size() == 2);
  auto x = tensor<float, 2>::from_shape({a.shape[0], a.shape[1]});
  for (std::size_t i = 0; i < a.size(); ++i) x.data()[i] = static_cast<float>(a.values[i]);
  return x;
}

/// Largest |a - b| over all samples (the signals are in mV, up to about 1 mV).
double max_difference(const tensor<float, 2>& a, const tensor<float, 2>& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a.data()[i]) - b.data()[i]));
  return worst;
}

}  // namespace

TEST_CASE("vcg: the matrices are the published ones") {
  // Edenbrandt & Pahlm 1988, Table (columns I, II, V1..V6): spot values of each row
  const auto& t = signal::detail::inverse_dower_matrix;
  CHECK(t[0][0] == 0.156);
  CHECK(t[0][7] == 0.194);
  CHECK(t[1][1] == 0.887);
  CHECK(t[2][3] == -0.310);
  // Kors et al. 1990
  CHECK(signal::detail::kors_matrix[0][7] == 0.54);
  CHECK(signal::detail::kors_matrix[1][1] == 0.93);
  CHECK(signal::detail::kors_matrix[2][2] == -0.43);
  // Dower et al. 1980 (rows I, II, V1..V6)
  CHECK(signal::detail::dower_matrix[0][0] == 0.632);
  CHECK(signal::detail::dower_matrix[3][2] == -1.387);
  // The inverse Dower matrix is the pseudo-inverse of Dower's: pinv(T) reproduces the Dower
  // matrix to the rounding of the published three decimals (numpy: max difference 0.0033).
  const auto b = signal::detail::pseudo_inverse(t);
  double worst = 0;
  for (std::size_t k = 0; k < 8; ++k) {
    for (std::size_t j = 0; j < 3; ++j) worst = std::max(worst, std::abs(b[k][j] - signal::detail::dower_matrix[k][j]));
  }
  CHECK(worst == doctest::Approx(0.0032983779205185138).epsilon(1e-9));
  // T pinv(T) = I
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      double acc = 0;
      for (std::size_t k = 0; k < 8; ++k) acc += t[i][k] * b[k][j];
      CHECK(acc == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(1e-12).scale(1.0));
    }
  }
}

TEST_CASE("vcg: rotation 0 and scale 1 give the projection onto the VCG subspace (numpy)") {
  const auto input = load("vcg_input.npy");
  const vcg_parameters none;  // angles 0, scales 1
  struct variant {
    vcg_augmentation_options options;
    const char* fixture;
  };
  const variant variants[] = {
      {{}, "vcg_identity_pinv.npy"},
      {{.back_projection = vcg_back_projection::dower}, "vcg_identity_dower.npy"},
      {{.reconstruction = vcg_reconstruction::kors}, "vcg_identity_kors.npy"},
  };
  for (const auto& v : variants) {
    CAPTURE(v.fixture);
    auto x = input;
    vcg_augmentation(v.options).transform(x, none);
    const auto expected = load(v.fixture);
    // float32 samples through a double 8x8 map: rounding of about 1e-7 mV
    CHECK(max_difference(x, expected) < 2e-6);
    // not the identity: the round trip drops the non-dipolar part of the 8 leads
    CHECK(max_difference(x, input) > 0.1);
  }
  // a signal that lies in the VCG subspace (x8 = pinv(T) v) comes back unchanged
  const vcg_augmentation aug;
  auto x = tensor<float, 2>::from_shape({12, 3});
  const double v[3][3] = {{1.0, 0.0, 0.0}, {0.0, -0.5, 0.25}, {0.3, 0.2, -0.1}};
  for (std::size_t t = 0; t < 3; ++t) {
    for (std::size_t k = 0; k < 8; ++k) {
      double s = 0;
      for (std::size_t i = 0; i < 3; ++i) s += aug.back_matrix()[k][i] * v[t][i];
      x(signal::detail::vcg_independent_leads[k], t) = static_cast<float>(s);
    }
  }
  io::derive_limb_leads(x);
  auto y = x;
  aug.transform(y, none);
  CHECK(max_difference(x, y) < 1e-6);
}

TEST_CASE("vcg: a rotation of 90 degrees about one axis moves one VCG axis onto another (by hand)") {
  // x8 = B e_X (a pure X dipole); rotating 90 degrees about z maps X to Y (Rz(90) e_X = e_Y), so
  // the output is B e_Y; about y, X goes to -Z (Ry(90) e_X = -e_Z); about x, Y goes to Z.
  const vcg_augmentation aug;
  const auto& b = aug.back_matrix();
  const auto dipole = [&](std::size_t axis, double sign) {
    auto x = tensor<float, 2>::from_shape({12, 1});
    for (std::size_t k = 0; k < 8; ++k) x(signal::detail::vcg_independent_leads[k], 0) = static_cast<float>(sign * b[k][axis]);
    io::derive_limb_leads(x);
    return x;
  };
  struct turn {
    vcg_parameters p;
    std::size_t from, to;
    double sign;
  };
  const turn turns[] = {
      {{{90.0, 0.0, 0.0}, {1.0, 1.0, 1.0}}, 0, 1, 1.0},
      {{{0.0, 90.0, 0.0}, {1.0, 1.0, 1.0}}, 0, 2, -1.0},
      {{{0.0, 0.0, 90.0}, {1.0, 1.0, 1.0}}, 1, 2, 1.0},
  };
  for (const auto& t : turns) {
    auto x = dipole(t.from, 1.0);
    aug.transform(x, t.p);
    CHECK(max_difference(x, dipole(t.to, t.sign)) < 1e-6);
  }
  // scaling X by 1.5 scales a pure X dipole by 1.5
  auto x = dipole(0, 1.0);
  aug.transform(x, {{0.0, 0.0, 0.0}, {1.5, 1.0, 1.0}});
  CHECK(max_difference(x, dipole(0, 1.5)) < 1e-6);
}

TEST_CASE("vcg: Euler angles and scales compose as scipy's from_euler('zyx') then diag(s) (numpy fixture)") {
  const auto params = testing::read_npy(fixture_dir + "vcg_parameters.npy");
  REQUIRE(params.size() == 6);
  vcg_parameters p;
  for (std::size_t i = 0; i < 3; ++i) {
    p.angles_degrees[i] = params.values[i];
    p.scales[i] = params.values[3 + i];
  }
  auto x = load("vcg_input.npy");
  vcg_augmentation().transform(x, p);
  CHECK(max_difference(x, load("vcg_rotated_pinv.npy")) < 2e-6);
  // the rotation is orthogonal with determinant 1
  const auto r = vcg_augmentation::rotation(p.angles_degrees);
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      double acc = 0;
      for (std::size_t k = 0; k < 3; ++k) acc += r[i][k] * r[j][k];
      CHECK(acc == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(1e-12).scale(1.0));
    }
  }
}

TEST_CASE("vcg: draws are uniform in the documented ranges and reproducible by seed") {
  const vcg_augmentation aug;  // 45 degrees, scale 1.5
  double angle_min = 1e9, angle_max = -1e9, scale_min = 1e9, scale_max = -1e9, angle_sum = 0, scale_sum = 0;
  const int trials = 4000;
  for (int s = 0; s < trials; ++s) {
    const auto p = aug.draw(random_stream(5, static_cast<std::uint64_t>(s)));
    for (std::size_t i = 0; i < 3; ++i) {
      angle_min = std::min(angle_min, p.angles_degrees[i]);
      angle_max = std::max(angle_max, p.angles_degrees[i]);
      scale_min = std::min(scale_min, p.scales[i]);
      scale_max = std::max(scale_max, p.scales[i]);
      angle_sum += p.angles_degrees[i];
      scale_sum += p.scales[i];
    }
  }
  CHECK(angle_min >= -45.0);
  CHECK(angle_max < 45.0);
  CHECK(angle_min < -44.0);
  CHECK(angle_max > 44.0);
  CHECK(scale_min >= 1.0);
  CHECK(scale_max < 1.5);
  CHECK(scale_min < 1.01);
  CHECK(scale_max > 1.49);
  // means 0 and 1.25; standard error of the mean: 26/sqrt(12000) = 0.24 degrees, 0.0013
  CHECK(std::abs(angle_sum / (3 * trials)) < 1.0);
  CHECK(std::abs(scale_sum / (3 * trials) - 1.25) < 0.006);

  const auto input = load("vcg_input.npy");
  const auto run = [&](std::uint64_t seed, std::uint64_t stream) {
    auto x = input;
    signal_context ctx;
    ctx.rng = random_stream(seed, stream);
    aug.apply(x, ctx);
    return x;
  };
  const auto a = run(1, 2), b = run(1, 2), c = run(1, 3), d = run(2, 2);
  CHECK(max_difference(a, b) == 0.0);
  CHECK(max_difference(a, c) > 1e-3);
  CHECK(max_difference(a, d) > 1e-3);
  // apply = transform with draw()'s parameters
  auto e = input;
  aug.transform(e, aug.draw(random_stream(1, 2)));
  CHECK(max_difference(a, e) == 0.0);
  // every output satisfies Einthoven and Goldberger
  for (std::size_t t = 0; t < a.shape()[1]; t += 13) {
    CHECK(a(2, t) == doctest::Approx(a(1, t) - a(0, t)).epsilon(1e-5).scale(1e-3));
    CHECK(a(3, t) == doctest::Approx(-(a(0, t) + a(1, t)) / 2).epsilon(1e-5).scale(1e-3));
  }
  // max angle 0 and max scale 1 draw the no-op parameters
  const auto still = vcg_augmentation({.max_angle_degrees = 0.0, .max_scale = 1.0}).draw(random_stream(3, 4));
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(still.angles_degrees[i] == 0.0);
    CHECK(still.scales[i] == 1.0);
  }
}

TEST_CASE("vcg: a lead count other than 12 and bad options are clear errors") {
  const vcg_augmentation aug;
  auto x = tensor<float, 2>::from_shape({8, 10});
  x.fill(0.0f);
  signal_context ctx;
  CHECK_THROWS_WITH_AS(aug.apply(x, ctx), doctest::Contains("got 8 leads"), shape_error);
  auto one = tensor<float, 2>::from_shape({1, 10});
  CHECK_THROWS_WITH_AS(aug.transform(one, {}), doctest::Contains("12 standard leads"), shape_error);
  CHECK_THROWS_WITH_AS(vcg_augmentation({.max_angle_degrees = -1.0}), doctest::Contains("angle"), config_error);
  CHECK_THROWS_WITH_AS(vcg_augmentation({.max_scale = 0.5}), doctest::Contains("scale >= 1"), config_error);
  CHECK_THROWS_AS(vcg_augmentation({.max_scale = std::nan("")}), config_error);
}

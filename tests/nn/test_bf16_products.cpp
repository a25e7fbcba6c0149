// Mixed precision (core/precision.hpp): the matrix products in bf16 mode, and the two layers that
// are one product each (linear, conv1d), forward and both gradients.
//
// Tolerances, derived once here. u = 2^-8 is bfloat16's unit roundoff (8 significant bits),
// v = 2^-24 float32's. In bf16 mode a product c = sum_p a_p b_p of length k is computed as
// fl32(sum_p bf(a_p) bf(b_p)), where bf() rounds to nearest with |bf(x) - x| <= u |x|.
//  (1) Against the exact sum of the rounded operands: each term bf(a) bf(b) is exact in float32
//      (8 + 8 significant bits), so only the k float32 additions err, by at most
//      gamma_k = k v / (1 - k v) times S~ = sum |bf(a_p)| |bf(b_p)| (the standard bound for
//      recursive or blocked summation); one more rounding (alpha, a bias or the accumulated
//      value added) adds at most 2 v |result|.
//  (2) Against the float32 product of the unrounded operands: |bf(a) bf(b) - a b| <= (2u + u^2)|a b|,
//      so |c_bf16 - c_fp32| <= (2u + u^2) S + 2 gamma_k S' with S = sum |a_p| |b_p|.
// The reference sums are computed in double (long double for the products) from operands rounded
// by this file's own rounding (frexp / nearbyint), not by the library's bf16_bits.
#include <ecgssl/core/precision.hpp>
#include <ecgssl/core/tensor.hpp>
#include <ecgssl/core/threading.hpp>
#include <ecgssl/nn/conv1d.hpp>
#include <ecgssl/nn/detail/gemm.hpp>
#include <ecgssl/nn/linear.hpp>
#include <ecgssl/optim/training_backend.hpp>

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include "nn_test_support.hpp"

namespace {

constexpr double bf16_unit = 0x1p-8;
constexpr double fp32_unit = 0x1p-24;

double gamma_fp32(double k) { return k * fp32_unit / (1.0 - k * fp32_unit); }

// Nearest value with 8 significant bits, ties to even (the default rounding mode of nearbyint),
// for the normal range the tests use.
double round_to_8_bits(double x) {
  if (x == 0.0 || !std::isfinite(x)) return x;
  int exponent = 0;
  const double fraction = std::frexp(x, &exponent);  // x = fraction * 2^exponent, |fraction| in [0.5, 1)
  return std::ldexp(std::nearbyint(std::ldexp(fraction, 8)), exponent - 8);
}

std::vector<float> uniform_values(std::size_t count, std::uint64_t seed, double scale = 1.0) {
  const ecgssl::random_stream rng(seed, 17);
  std::vector<float> v(count);
  for (std::size_t i = 0; i < count; ++i) v[i] = static_cast<float>(scale * (2.0 * rng.uniform(i) - 1.0));
  return v;
}

struct product_case {
  long m, n, k;
  bool transpose_lhs, transpose_rhs, accumulate;
  float alpha;
};

// c = (accumulate ? c0 : 0) + alpha * op(a) op(b) through parallel_gemm in the current precision.
std::vector<float> product(const product_case& p, const std::vector<float>& a, const std::vector<float>& b,
                           std::vector<float> c) {
  auto cm = ecgssl::as_matrix(c.data(), p.m, p.n);
  const auto am = p.transpose_lhs ? ecgssl::as_matrix(a.data(), p.k, p.m) : ecgssl::as_matrix(a.data(), p.m, p.k);
  const auto bm = p.transpose_rhs ? ecgssl::as_matrix(b.data(), p.n, p.k) : ecgssl::as_matrix(b.data(), p.k, p.n);
  using ecgssl::nn::detail::parallel_gemm;
  if (!p.transpose_lhs && !p.transpose_rhs) parallel_gemm(cm, am, bm, p.accumulate, p.alpha);
  if (p.transpose_lhs && !p.transpose_rhs) parallel_gemm(cm, am.transpose(), bm, p.accumulate, p.alpha);
  if (!p.transpose_lhs && p.transpose_rhs) parallel_gemm(cm, am, bm.transpose(), p.accumulate, p.alpha);
  if (p.transpose_lhs && p.transpose_rhs) parallel_gemm(cm, am.transpose(), bm.transpose(), p.accumulate, p.alpha);
  return c;
}

// Element (i, j) of op(a) op(b) in long double with each operand passed through `op_value`, and
// the matching sum of absolute terms.
template <class Op>
std::pair<long double, long double> exact_element(const product_case& p, const std::vector<float>& a,
                                                  const std::vector<float>& b, long i, long j, Op op_value) {
  long double sum = 0, abs_sum = 0;
  for (long q = 0; q < p.k; ++q) {
    const double av = op_value(p.transpose_lhs ? a[static_cast<std::size_t>(q * p.m + i)] : a[static_cast<std::size_t>(i * p.k + q)]);
    const double bv = op_value(p.transpose_rhs ? b[static_cast<std::size_t>(j * p.k + q)] : b[static_cast<std::size_t>(q * p.n + j)]);
    sum += static_cast<long double>(av) * bv;
    abs_sum += std::abs(static_cast<long double>(av) * bv);
  }
  return {sum, abs_sum};
}

}  // namespace

TEST_CASE("bf16 products equal the exact products of bf16-rounded operands up to float32 summation") {
  const product_case cases[] = {
      {7, 5, 3, false, false, false, 1.0f},        // smaller than a panel
      {130, 70, 64, false, true, false, 1.0f},     // linear forward's orientation, split by rows
      {70, 130, 200, true, false, true, 1.0f},     // weight gradient's orientation, accumulating, by columns
      {96, 96, 1000, true, true, true, 0.125f},    // long reduction, both transposed, scaled (attention)
      {50, 300, 17, false, false, true, 0.3f},     // a scale that is not a power of two
  };
  const int before = ecgssl::max_threads();
  for (const int threads : {1, 2}) {
    ecgssl::set_threads(threads);
    for (const auto& p : cases) {
      CAPTURE(p.m); CAPTURE(p.n); CAPTURE(p.k); CAPTURE(threads);
      const auto a = uniform_values(static_cast<std::size_t>(p.m * p.k), 1 + static_cast<std::uint64_t>(p.k));
      const auto b = uniform_values(static_cast<std::size_t>(p.k * p.n), 2 + static_cast<std::uint64_t>(p.n), 3.0);
      const auto c0 = uniform_values(static_cast<std::size_t>(p.m * p.n), 3);
      std::vector<float> mixed, single;
      {
        const ecgssl::precision_scope bf16(ecgssl::precision::bf16);
        mixed = product(p, a, b, c0);
      }
      single = product(p, a, b, c0);
      double largest_difference = 0;
      for (long i = 0; i < p.m; ++i) {
        for (long j = 0; j < p.n; ++j) {
          const auto idx = static_cast<std::size_t>(i * p.n + j);
          const double base = p.accumulate ? c0[idx] : 0.0;
          const auto [rounded, rounded_abs] = exact_element(p, a, b, i, j, [](float x) { return round_to_8_bits(x); });
          const auto [exact, exact_abs] = exact_element(p, a, b, i, j, [](float x) { return double(x); });
          const double expected = base + p.alpha * static_cast<double>(rounded);
          // (1): the rounding is bf16's, the accumulation float32's.
          const double bound1 = std::abs(p.alpha) * gamma_fp32(double(p.k)) * double(rounded_abs) +
                                2 * fp32_unit * (std::abs(expected) + std::abs(base)) + 1e-30;
          REQUIRE(std::abs(mixed[idx] - expected) <= bound1);
          // (2): against the float32 product of the operands as given.
          const double bound2 = std::abs(p.alpha) * ((2 * bf16_unit + bf16_unit * bf16_unit) * double(exact_abs) +
                                                     2 * gamma_fp32(double(p.k)) * double(rounded_abs)) +
                                4 * fp32_unit * (std::abs(expected) + std::abs(base)) + 1e-30;
          REQUIRE(std::abs(double(mixed[idx]) - double(single[idx])) <= bound2);
          (void)exact;
          largest_difference = std::max(largest_difference, std::abs(double(mixed[idx]) - double(single[idx])));
        }
      }
      // The operands were rounded at all (random float32 values are almost never bf16 values).
      CHECK(largest_difference > 1e-4);
    }
  }
  ecgssl::set_threads(before);
}

TEST_CASE("bf16 mode leaves double products and float32 mode exactly as they were") {
  const product_case p{40, 60, 50, false, true, true, 1.0f};
  const auto a = uniform_values(static_cast<std::size_t>(p.m * p.k), 4);
  const auto b = uniform_values(static_cast<std::size_t>(p.k * p.n), 5);
  const auto c0 = uniform_values(static_cast<std::size_t>(p.m * p.n), 6);
  const auto before = product(p, a, b, c0);
  {
    const ecgssl::precision_scope bf16(ecgssl::precision::bf16);
    const ecgssl::precision_scope back(ecgssl::precision::fp32);
    CHECK(product(p, a, b, c0) == before);
  }
  CHECK(ecgssl::product_precision() == ecgssl::precision::fp32);
  // Double products are the gradient checks' arithmetic: never rounded.
  std::vector<double> ad(a.begin(), a.end()), bd(b.begin(), b.end());
  std::vector<double> plain(static_cast<std::size_t>(p.m * p.n)), scoped(plain.size());
  ecgssl::nn::detail::parallel_gemm(ecgssl::as_matrix(plain.data(), p.m, p.n), ecgssl::as_matrix(ad.data(), p.m, p.k),
                                    ecgssl::as_matrix(bd.data(), p.n, p.k).transpose(), false);
  {
    const ecgssl::precision_scope bf16(ecgssl::precision::bf16);
    ecgssl::nn::detail::parallel_gemm(ecgssl::as_matrix(scoped.data(), p.m, p.n), ecgssl::as_matrix(ad.data(), p.m, p.k),
                                      ecgssl::as_matrix(bd.data(), p.n, p.k).transpose(), false);
  }
  CHECK(plain == scoped);
}

TEST_CASE("bf16 products keep non-finite values non-finite") {
  // A NaN or infinity in an operand must reach the result, so the callers' finiteness checks see it.
  const product_case p{3, 3, 4, false, false, false, 1.0f};
  auto a = uniform_values(12, 7);
  const auto b = uniform_values(12, 8);
  a[1] = std::numeric_limits<float>::quiet_NaN();
  a[6] = std::numeric_limits<float>::infinity();
  const ecgssl::precision_scope bf16(ecgssl::precision::bf16);
  const auto c = product(p, a, b, std::vector<float>(9));
  for (int j = 0; j < 3; ++j) {
    CHECK(std::isnan(c[static_cast<std::size_t>(j)]));
    CHECK(!std::isfinite(c[static_cast<std::size_t>(3 + j)]));
    CHECK(std::isfinite(c[static_cast<std::size_t>(6 + j)]));
  }
}

TEST_CASE("the vectorised operand rounding gives bf16_bits' patterns for every kind of value") {
  // bf16_bits is the scalar definition (core/precision.hpp); the product operands are rounded by
  // branch-free loops (core/detail/bf16_rounding.hpp). Every exponent with edge mantissas (ties either way,
  // carries into the exponent and into infinity), subnormals, infinities and NaNs with payloads
  // in either half, then pseudo-random bit patterns.
  std::vector<std::uint32_t> patterns;
  for (std::uint32_t sign : {0u, 0x80000000u}) {
    for (std::uint32_t exponent = 0; exponent < 256; ++exponent) {
      for (std::uint32_t mantissa : {0x000000u, 0x000001u, 0x007fffu, 0x008000u, 0x008001u, 0x00ffffu, 0x018000u,
                                     0x017fffu, 0x400000u, 0x7f8000u, 0x7fffffu, 0x7f7fffu, 0x000040u}) {
        patterns.push_back(sign | (exponent << 23) | mantissa);
      }
    }
  }
  const ecgssl::random_stream rng(99, 3);
  for (std::uint32_t i = 0; i < 100000; ++i) patterns.push_back(static_cast<std::uint32_t>(rng.uniform(i) * 4294967296.0));
  // An odd count and an unaligned start: the vector loops' remainders run too.
  std::vector<float> values(patterns.size() + 1);
  for (std::size_t i = 0; i < patterns.size(); ++i) values[i + 1] = std::bit_cast<float>(patterns[i]);
  std::vector<std::uint16_t> bits(patterns.size());
  std::vector<float> widened(patterns.size());
  const auto count = static_cast<Eigen::Index>(patterns.size());
  ecgssl::detail::round_to_bf16_bits(values.data() + 1, bits.data(), count);
  ecgssl::detail::round_to_bf16_floats(values.data() + 1, widened.data(), count);
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    CAPTURE(patterns[i]);
    const std::uint16_t expected = ecgssl::bf16_bits(values[i + 1]);
    REQUIRE(bits[i] == expected);
    REQUIRE(std::bit_cast<std::uint32_t>(widened[i]) == static_cast<std::uint32_t>(expected) << 16);
  }
}

TEST_CASE("bf16 products into a column-major result and from overlapping-row operands") {
  // A transposed result (oneDNN computes its transpose instead) and an operand whose rows
  // overlap (pos_conv's windows: leading dimension smaller than a row) are both legal Eigen
  // views; both must give the rounded operands' exact products within bound (1).
  const long m = 60, n = 100, k = 40, overlap_step = 7;
  const auto a = uniform_values(static_cast<std::size_t>(overlap_step * (m - 1) + k), 41);
  const auto b = uniform_values(static_cast<std::size_t>(k * n), 42);
  using Windows = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;
  const Windows am(a.data(), m, k, Eigen::OuterStride<>(overlap_step));
  const auto bm = ecgssl::as_matrix(b.data(), k, n);
  std::vector<float> transposed(static_cast<std::size_t>(n * m), -1.0f);
  for (const int threads : {1, 2}) {
    const int before = ecgssl::max_threads();
    ecgssl::set_threads(threads);
    {
      const ecgssl::precision_scope bf16(ecgssl::precision::bf16);
      ecgssl::nn::detail::parallel_gemm(ecgssl::as_matrix(transposed.data(), n, m).transpose(), am, bm, false);
    }
    ecgssl::set_threads(before);
    for (long i = 0; i < m; ++i) {
      for (long j = 0; j < n; ++j) {
        long double sum = 0, abs_sum = 0;
        for (long q = 0; q < k; ++q) {
          const long double term = static_cast<long double>(round_to_8_bits(a[static_cast<std::size_t>(i * overlap_step + q)])) *
                                   round_to_8_bits(b[static_cast<std::size_t>(q * n + j)]);
          sum += term;
          abs_sum += std::abs(term);
        }
        const double got = transposed[static_cast<std::size_t>(j * m + i)];
        REQUIRE(std::abs(got - double(sum)) <= gamma_fp32(double(k)) * double(abs_sum) + 2 * fp32_unit * std::abs(double(sum)) + 1e-30);
      }
    }
  }
}

TEST_CASE("frozen operands are rounded once and kept; ending the registration drops the copies") {
  // Weights during inference (inference_parameters): a product reading frozen memory uses the
  // kept copy, which gives the very bits a fresh rounding gives, so results are bit-identical.
  const long m = 100, n = 96, k = 64;
  const auto x = uniform_values(static_cast<std::size_t>(m * k), 51);
  auto w = uniform_values(static_cast<std::size_t>(n * k), 52);
  const auto forward = [&] {  // linear's orientation: y = x w^T, the weight read transposed
    std::vector<float> y(static_cast<std::size_t>(m * n));
    const ecgssl::precision_scope bf16(ecgssl::precision::bf16);
    ecgssl::nn::detail::parallel_gemm(ecgssl::as_matrix(y.data(), m, n), ecgssl::as_matrix(x.data(), m, k),
                                      ecgssl::as_matrix(w.data(), n, k).transpose(), false);
    return y;
  };
  using frozen = ecgssl::detail::frozen_operands;
  REQUIRE(frozen::counts() == std::pair<std::size_t, std::size_t>{0, 0});
  const auto fresh = forward();
  bool kept = false;
  {
    const auto registration = frozen::freeze(std::span<const float>(w));
    CHECK(frozen::counts().first == 1);
    CHECK(forward() == fresh);
    kept = frozen::counts().second > 0;
    // Where oneDNN has bf16 kernels the weight was rounded once into a kept copy (elsewhere the
    // float32 GEMM of rounded operands runs and keeps nothing): a second pass reuses it, so even
    // a weight changed behind the registration's back is not seen until it ends.
    if (kept) {
      CHECK(frozen::counts().second == 1);
      w[0] += 1.0f;
      CHECK(forward() == fresh);
      CHECK(frozen::counts().second == 1);
    } else {
      w[0] += 1.0f;
    }
  }
  CHECK(frozen::counts() == std::pair<std::size_t, std::size_t>{0, 0});
  const auto changed = forward();
  CHECK(changed != fresh);
  const std::string used = kept ? "yes" : "no (no oneDNN bf16 kernel here)";
  MESSAGE("kept copies used: " << used);
  // inference_parameters freezes float stores only (double stores are the gradient checks').
  ecgssl::parameter_store<float> fstore;
  ecgssl::parameter_store<double> dstore;
  fstore.add("w", {3, 4});
  dstore.add("w", {3, 4});
  fstore.allocate();
  dstore.allocate();
  {
    const ecgssl::inference_parameters<float, ecgssl::host> resident(fstore);
    const ecgssl::inference_parameters<double, ecgssl::host> exact(dstore);
    CHECK(frozen::counts().first == 1);
  }
  CHECK(frozen::counts().first == 0);
}

namespace {

// A float layer in bf16 mode against the same layer in double: (1) fed bf16-rounded parameters,
// inputs and output gradients, within gamma_k of the matching sum of absolute terms (the double
// layer run on absolute values, bias zero); (2) against the float layer in fp32 mode within the
// bound (2) above. Covers forward, input gradient and weight gradient.
template <class Float, class Double, std::size_t N>
void check_single_product_layer(Float& f32, ecgssl::parameter_store<float>& fstore, Double& f64,
                                ecgssl::parameter_store<double>& dstore, const std::array<std::size_t, N>& in_shape,
                                double k_forward, double k_input_grad, double k_weight_grad) {
  nn_test::randomize(fstore, 21);
  const auto x = nn_test::random_tensor<float, N>(in_shape, 22);
  auto run_float = [&](ecgssl::precision mode, ecgssl::tensor<float, N>& y, ecgssl::tensor<float, N>& dx,
                       std::vector<float>& grads, const ecgssl::tensor<float, N>* dy) {
    const ecgssl::precision_scope scope(mode);
    fstore.zero_grad();
    f32.forward(x, y);
    if (dy == nullptr) return;
    dx = xt::zeros<float>(x.shape());
    f32.backward(*dy, dx);
    const auto g = fstore.grads();
    grads.assign(g.begin(), g.end());
  };
  // The double layer with every parameter, input and output gradient passed through `op`; the
  // bias (last parameter of each layer, if any) through `bias_op`.
  auto run_double = [&](auto op, bool zero_bias, ecgssl::tensor<double, N>& y, ecgssl::tensor<double, N>& dx,
                        std::vector<double>& grads, const ecgssl::tensor<float, N>& dy) {
    for (const auto& param : fstore.entries()) {
      const auto* dst = dstore.find(param.name);
      REQUIRE(dst != nullptr);
      const bool is_bias = param.name.find("bias") != std::string::npos;
      auto from = fstore.values().subspan(param.offset, param.size);
      auto to = dstore.values().subspan(dst->offset, dst->size);
      for (std::size_t i = 0; i < from.size(); ++i) to[i] = is_bias ? (zero_bias ? 0.0 : double(from[i])) : op(from[i]);
    }
    ecgssl::tensor<double, N> xd(x.shape());
    for (std::size_t i = 0; i < x.size(); ++i) xd.data()[i] = op(x.data()[i]);
    ecgssl::tensor<double, N> dyd(dy.shape());
    for (std::size_t i = 0; i < dy.size(); ++i) dyd.data()[i] = op(dy.data()[i]);
    dstore.zero_grad();
    f64.forward(xd, y);
    dx = xt::zeros<double>(xd.shape());
    f64.backward(dyd, dx);
    const auto g = dstore.grads();
    grads.assign(g.begin(), g.end());
  };
  ecgssl::tensor<float, N> y32, dx32, ybf, dxbf;
  std::vector<float> g32, gbf;
  run_float(ecgssl::precision::fp32, y32, dx32, g32, nullptr);
  const auto dy = nn_test::random_tensor<float, N>(
      [&] { std::array<std::size_t, N> s{}; std::copy(y32.shape().begin(), y32.shape().end(), s.begin()); return s; }(), 23);
  run_float(ecgssl::precision::fp32, y32, dx32, g32, &dy);
  run_float(ecgssl::precision::bf16, ybf, dxbf, gbf, &dy);
  ecgssl::tensor<double, N> yr, dxr, ya, dxa, ye, dxe;
  std::vector<double> gr, ga, ge;
  run_double([](float v) { return round_to_8_bits(v); }, false, yr, dxr, gr, dy);
  run_double([](float v) { return std::abs(round_to_8_bits(v)); }, true, ya, dxa, ga, dy);
  run_double([](float v) { return std::abs(double(v)); }, true, ye, dxe, ge, dy);
  auto check = [](const char* what, const float* mixed, const float* single, const double* rounded,
                  const double* rounded_abs, const double* exact_abs, std::size_t n, double k, const std::vector<bool>* skip) {
    CAPTURE(what);
    double largest_difference = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (skip != nullptr && (*skip)[i]) continue;
      const double bound1 = gamma_fp32(k) * rounded_abs[i] + 2 * fp32_unit * std::abs(rounded[i]) + 1e-30;
      CAPTURE(i);
      REQUIRE(std::abs(mixed[i] - rounded[i]) <= bound1);
      const double bound2 = (2 * bf16_unit + bf16_unit * bf16_unit) * exact_abs[i] + 2 * gamma_fp32(k) * rounded_abs[i] +
                            4 * fp32_unit * std::abs(rounded[i]) + 1e-30;
      REQUIRE(std::abs(double(mixed[i]) - double(single[i])) <= bound2);
      largest_difference = std::max(largest_difference, std::abs(double(mixed[i]) - double(single[i])));
    }
    CHECK(largest_difference > 1e-5);
  };
  check("forward", ybf.data(), y32.data(), yr.data(), ya.data(), ye.data(), ybf.size(), k_forward, nullptr);
  check("input gradient", dxbf.data(), dx32.data(), dxr.data(), dxa.data(), dxe.data(), dxbf.size(), k_input_grad, nullptr);
  // Parameter gradients: the weights' are products; the bias gradient is a float32 sum of dy in
  // both modes, so it must be identical.
  std::vector<bool> is_bias(gbf.size(), false);
  for (const auto& param : fstore.entries()) {
    if (param.name.find("bias") == std::string::npos) continue;
    for (std::size_t i = 0; i < param.size; ++i) {
      is_bias[param.offset + i] = true;
      CHECK(gbf[param.offset + i] == g32[param.offset + i]);
    }
  }
  check("weight gradient", gbf.data(), g32.data(), gr.data(), ga.data(), ge.data(), gbf.size(), k_weight_grad, &is_bias);
}

}  // namespace

TEST_CASE("linear in bf16 mode: forward and both gradients within the derived bounds") {
  // x [3, 50, 96] -> y [3, 50, 40]: forward and dW reduce over 96 and 150, dx over 40.
  ecgssl::parameter_store<float> fstore;
  ecgssl::parameter_store<double> dstore;
  ecgssl::nn::linear<float> f32(96, 40);
  ecgssl::nn::linear<double> f64(96, 40);
  f32.declare_parameters(fstore, "fc.");
  f64.declare_parameters(dstore, "fc.");
  fstore.allocate();
  dstore.allocate();
  check_single_product_layer(f32, fstore, f64, dstore, std::array<std::size_t, 3>{3, 50, 96}, 96, 40, 150);
}

TEST_CASE("conv1d in bf16 mode: forward and both gradients within the derived bounds") {
  // 12 -> 16 channels, kernel 5, stride 2, padding 2, two groups: a window reduces over
  // 6 x 5 = 30 terms; dx over out/groups x kernel = 40 at most; dW over batch x length out.
  const ecgssl::nn::conv1d_options o{12, 16, 5, 2, 2, 1, 2, true};
  ecgssl::parameter_store<float> fstore;
  ecgssl::parameter_store<double> dstore;
  ecgssl::nn::conv1d<float> f32(o);
  ecgssl::nn::conv1d<double> f64(o);
  f32.declare_parameters(fstore, "conv.");
  f64.declare_parameters(dstore, "conv.");
  fstore.allocate();
  dstore.allocate();
  check_single_product_layer(f32, fstore, f64, dstore, std::array<std::size_t, 3>{2, 12, 61}, 30, 40, 62);
}

#if defined(ECGSSL_WITH_ONEDNN)
TEST_CASE("the oneDNN adapter computes products of float32 operands, and of bf16 ones where the CPU has kernels") {
  // float32 operands exercise the whole adapter (descriptors with strides, the sum post-op,
  // cached primitives, memory handles rebound per call) on any CPU; the bf16 case runs only where
  // oneDNN has a bf16 kernel. Operands are read through their strides (transposed ones too) and
  // the result is written into rows longer than the product (a panel of a wider matrix).
  for (const auto type : {dnnl_f32, dnnl_bf16}) {
    ecgssl::nn::detail::onednn_matmul engine(type);
    const std::string kernel = engine.kernel_for(64, 48, 300);
    CAPTURE(kernel);
    if (!engine.has_kernel(64, 48, 300)) {
      const std::string what = type == dnnl_f32 ? "f32" : "bf16";
      MESSAGE("oneDNN has no " << what << " kernel here (" << kernel << "): not run");
      continue;
    }
    for (const product_case p : {product_case{64, 48, 300, false, false, false, 1.0f}, product_case{5, 7, 3, false, false, false, 1.0f},
                                 product_case{64, 48, 300, false, false, false, 1.0f},  // the first shape again: cached
                                 product_case{64, 48, 300, false, true, false, 1.0f}, product_case{50, 70, 90, true, false, true, 1.0f},
                                 product_case{33, 20, 129, true, true, true, 1.0f}}) {
      CAPTURE(p.m); CAPTURE(p.n); CAPTURE(p.k); CAPTURE(p.transpose_lhs); CAPTURE(p.transpose_rhs); CAPTURE(p.accumulate);
      const auto a = uniform_values(static_cast<std::size_t>(p.m * p.k), 31 + static_cast<std::uint64_t>(p.m));
      const auto b = uniform_values(static_cast<std::size_t>(p.k * p.n), 32 + static_cast<std::uint64_t>(p.m));
      std::vector<std::uint16_t> a_bits(a.size()), b_bits(b.size());
      for (std::size_t i = 0; i < a.size(); ++i) a_bits[i] = ecgssl::bf16_bits(a[i]);
      for (std::size_t i = 0; i < b.size(); ++i) b_bits[i] = ecgssl::bf16_bits(b[i]);
      const long ldc = p.n + 5;
      const auto c0 = uniform_values(static_cast<std::size_t>(p.m * ldc), 33);
      std::vector<float> c = c0;
      const bool bf16 = type == dnnl_bf16;
      ecgssl::nn::detail::product_layout layout{p.m, p.n, p.k, p.k, 1, p.n, 1, ldc, p.accumulate};
      if (p.transpose_lhs) layout.a_row = 1, layout.a_col = p.m;
      if (p.transpose_rhs) layout.b_row = 1, layout.b_col = p.k;
      REQUIRE(engine.run(layout, bf16 ? static_cast<const void*>(a_bits.data()) : a.data(),
                         bf16 ? static_cast<const void*>(b_bits.data()) : b.data(), c.data()));
      for (long i = 0; i < p.m; ++i) {
        for (long j = 0; j < ldc; ++j) {
          const auto idx = static_cast<std::size_t>(i * ldc + j);
          if (j >= p.n) {
            REQUIRE(c[idx] == c0[idx]);  // past the product's columns: untouched
            continue;
          }
          const auto [exact, abs_sum] = exact_element(p, a, b, i, j, [&](float x) { return bf16 ? round_to_8_bits(x) : double(x); });
          const double expected = (p.accumulate ? double(c0[idx]) : 0.0) + double(exact);
          const double bound = gamma_fp32(double(p.k)) * double(abs_sum) + 2 * fp32_unit * (std::abs(expected) + std::abs(c0[idx])) + 1e-30;
          REQUIRE(std::abs(double(c[idx]) - expected) <= bound);
        }
      }
    }
  }
}
#endif

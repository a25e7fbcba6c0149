// Host tests of the CUDA pos_conv's index arithmetic and cuBLAS plans (cuda/detail/
// pos_conv_math.cuh): the im2col / col2im index functions against the convolution's definition,
// and a replay of the whole device algorithm (the kernels' per-element functions, the fixed
// reduction tree, the chunked GEMM plans run by run_on_host) against the host twin
// implementation<pos_conv_op, host>, which tests/nn checks against PyTorch and finite
// differences. No GPU needed.
#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/detail/gemm_plan.cuh>
#include <ecgssl/cuda/detail/pos_conv_math.cuh>
#include <ecgssl/nn/detail/pos_conv_kernels.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace cd = ecgssl::cuda_detail;

#include "gpu_test_support.hpp"

namespace {

std::vector<double> random_values(std::size_t n, std::uint64_t stream, double scale = 1.0) {
  return gpu_test::random_values(91, n, stream, scale);
}
using gpu_test::max_abs_difference;

cd::pos_conv_dims dims(std::int64_t batch, std::int64_t time, std::int64_t dim, std::int64_t groups,
                       std::int64_t kernel) {
  cd::pos_conv_dims d;
  d.batch = batch, d.time = time, d.dim = dim, d.groups = groups, d.kernel = kernel;
  return d;
}

// The device's per-tap reduction: 256 lanes, then the kernel's halving tree.
std::vector<double> tap_sums(const cd::pos_conv_dims& d, const double* v, const double* w) {
  constexpr std::int64_t lanes = 256;
  std::vector<double> out(static_cast<std::size_t>(d.kernel));
  for (std::int64_t j = 0; j < d.kernel; ++j) {
    std::vector<double> partial(lanes);
    for (std::int64_t l = 0; l < lanes; ++l) partial[l] = cd::pos_conv_tap_partial<double>(d, v, w, j, l, lanes);
    for (std::int64_t s = lanes / 2; s > 0; s /= 2)
      for (std::int64_t l = 0; l < s; ++l) partial[l] += partial[l + s];
    out[j] = partial[0];
  }
  return out;
}

double gelu(double a) { return 0.5 * a * (1.0 + std::erf(a / std::sqrt(2.0))); }
double gelu_grad(double a) {
  return 0.5 * (1.0 + std::erf(a / std::sqrt(2.0))) + a * std::exp(-0.5 * a * a) / std::sqrt(2.0 * M_PI);
}

}  // namespace

TEST_CASE("pos_conv im2col_source reads frame t + j - K/2 of the right sample and channel") {
  for (const auto& d : {dims(2, 5, 8, 2, 4), dims(3, 3, 6, 3, 6), dims(1, 9, 4, 1, 2)}) {
    const std::int64_t b0 = 1;
    const std::int64_t dg = d.dg();
    std::int64_t e = 0;
    // Naive loop in the documented cols layout [chunk, time, groups, kernel*dg].
    for (std::int64_t b = 0; b < d.batch; ++b)
      for (std::int64_t t = 0; t < d.time; ++t)
        for (std::int64_t g = 0; g < d.groups; ++g)
          for (std::int64_t j = 0; j < d.kernel; ++j)
            for (std::int64_t i = 0; i < dg; ++i, ++e) {
              const std::int64_t s = t + j - d.kernel / 2;
              const std::int64_t expected = (s < 0 || s >= d.time) ? -1 : ((b0 + b) * d.time + s) * d.dim + g * dg + i;
              REQUIRE(cd::pos_conv_im2col_source(d, b0, e) == expected);
            }
    CHECK(e == d.batch * d.cols_per_sample());
  }
}

TEST_CASE("pos_conv col2im_source is the exact inverse of im2col_source") {
  for (const auto& d : {dims(2, 5, 8, 2, 4), dims(3, 3, 6, 3, 6), dims(2, 11, 16, 4, 8)}) {
    // For each x element: the set of cols elements that read it, found both ways.
    const std::int64_t xs = d.batch * d.time * d.dim;
    std::vector<std::vector<std::int64_t>> readers(static_cast<std::size_t>(xs));
    for (std::int64_t e = 0; e < d.batch * d.cols_per_sample(); ++e) {
      const std::int64_t src = cd::pos_conv_im2col_source(d, 0, e);
      if (src >= 0) readers[static_cast<std::size_t>(src)].push_back(e);
    }
    for (std::int64_t x = 0; x < xs; ++x) {
      std::vector<std::int64_t> gathered;
      for (std::int64_t j = 0; j < d.kernel; ++j) {
        const std::int64_t src = cd::pos_conv_col2im_source(d, x, j);
        if (src >= 0) gathered.push_back(src);
      }
      auto expected = readers[static_cast<std::size_t>(x)];
      std::sort(expected.begin(), expected.end());
      std::sort(gathered.begin(), gathered.end());
      REQUIRE(gathered == expected);
    }
  }
}

TEST_CASE("pos_conv weight_index and v_index are inverse maps between the two weight layouts") {
  const auto d = dims(1, 1, 12, 3, 4);
  const std::int64_t n = d.dim * d.patch();
  std::vector<int> seen(static_cast<std::size_t>(n), 0);
  for (std::int64_t e = 0; e < n; ++e) {
    const std::int64_t vi = cd::pos_conv_v_index(d, e);
    REQUIRE(vi >= 0);
    REQUIRE(vi < n);
    ++seen[static_cast<std::size_t>(vi)];
    REQUIRE(cd::pos_conv_weight_index(d, vi / d.kernel, vi % d.kernel) == e);
    // The documented layouts: w[o*K*dg + j*dg + i] <- v[(o*dg + i)*K + j].
    const std::int64_t dg = d.dg(), i = e % dg, j = (e / dg) % d.kernel, o = e / (d.kernel * dg);
    REQUIRE(vi == (o * dg + i) * d.kernel + j);
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
}

TEST_CASE("pos_conv device algorithm replayed on the host matches the host twin") {
  using host_k = ecgssl::implementation<ecgssl::nn::detail::pos_conv_op, ecgssl::host>;
  struct shape {
    std::int64_t batch, time, dim, groups, kernel, max_elements;
  };
  // max_elements forces chunks of 1, 2 and the whole batch.
  for (const auto& s : {shape{3, 11, 16, 4, 8, 11 * 16 * 8}, shape{3, 7, 12, 3, 6, 2 * 7 * 12 * 6},
                        shape{2, 5, 8, 2, 4, 1 << 20}, shape{2, 3, 8, 2, 10, 1 << 20}}) {
    const auto d = dims(s.batch, s.time, s.dim, s.groups, s.kernel);
    CAPTURE(s.kernel);
    const auto rows = static_cast<std::size_t>(d.batch * d.time);
    const auto dim = static_cast<std::size_t>(d.dim);
    const auto weights = static_cast<std::size_t>(d.dim * d.patch());
    const auto k = static_cast<std::size_t>(d.kernel);
    const auto x = random_values(rows * dim, 1), v = random_values(weights, 2), gain = random_values(k, 3),
               bias = random_values(dim, 4), dy = random_values(rows * dim, 5);
    const auto dx0 = random_values(rows * dim, 6), dv0 = random_values(weights, 7), dg0 = random_values(k, 8),
               db0 = random_values(dim, 9);

    // Host twin.
    ecgssl::nn::detail::pos_conv_geometry geo{static_cast<std::size_t>(d.batch), static_cast<std::size_t>(d.time),
                                              dim, static_cast<std::size_t>(d.groups), k};
    host_k::workspace<double> ws;
    std::vector<double> y(rows * dim), dx = dx0, dv = dv0, dgain = dg0, db = db0;
    host_k::forward(geo, x.data(), v.data(), gain.data(), bias.data(), y.data(), ws);
    host_k::backward(geo, v.data(), gain.data(), dy.data(), dx.data(), dv.data(), dgain.data(), db.data(), ws);

    // Device algorithm, step by step as in pos_conv_kernels.cuh.
    const auto sums = tap_sums(d, v.data(), static_cast<const double*>(nullptr));
    std::vector<double> norm(k), w(weights);
    for (std::size_t j = 0; j < k; ++j) norm[j] = std::sqrt(sums[j]);
    for (std::int64_t e = 0; e < static_cast<std::int64_t>(weights); ++e) {
      const std::int64_t j = (e / d.dg()) % d.kernel;
      w[e] = gain[j] * v[cd::pos_conv_v_index(d, e)] / norm[j];
    }
    CHECK(max_abs_difference(w, ws.w) < 1e-14);

    const std::int64_t chunk = cd::pos_conv_chunk(d, s.max_elements);
    CHECK(chunk == std::min<std::int64_t>(d.batch, std::max<std::int64_t>(1, s.max_elements / d.cols_per_sample())));
    std::vector<double> cols(static_cast<std::size_t>(chunk * d.cols_per_sample()), 555.0);
    std::vector<double> pre(rows * dim, 777.0), py(rows * dim);
    auto im2col = [&](std::int64_t b0, std::int64_t n) {
      for (std::int64_t e = 0; e < n * d.cols_per_sample(); ++e) {
        const std::int64_t src = cd::pos_conv_im2col_source(d, b0, e);
        cols[e] = src < 0 ? 0.0 : x[src];
      }
    };
    for (std::int64_t b0 = 0; b0 < d.batch; b0 += chunk) {
      const std::int64_t n = std::min(chunk, d.batch - b0);
      im2col(b0, n);
      cd::run_on_host(cd::pos_conv_forward_plan(d, b0, n), 1.0, w.data(), cols.data(), 0.0, pre.data());
    }
    for (std::size_t i = 0; i < rows * dim; ++i) {
      pre[i] += bias[i % dim];
      py[i] = gelu(pre[i]);
    }
    CHECK(max_abs_difference(pre, ws.pre_act) < 1e-12);
    CHECK(max_abs_difference(py, y) < 1e-12);

    std::vector<double> dpre(rows * dim), pdx = dx0, pdv = dv0, pdg = dg0, pdb = db0, grad_w(weights, 999.0);
    for (std::size_t i = 0; i < rows * dim; ++i) dpre[i] = dy[i] * gelu_grad(pre[i]);
    for (std::size_t c = 0; c < dim; ++c) {
      double sum = 0;
      for (std::size_t r = 0; r < rows; ++r) sum += dpre[r * dim + c];
      pdb[c] += sum;
    }
    for (std::int64_t b0 = 0; b0 < d.batch; b0 += chunk) {
      const std::int64_t n = std::min(chunk, d.batch - b0);
      im2col(b0, n);
      cd::run_on_host(cd::pos_conv_weight_grad_plan(d, b0, n), 1.0, cols.data(), dpre.data(), b0 == 0 ? 0.0 : 1.0,
                      grad_w.data());
      cd::run_on_host(cd::pos_conv_cols_grad_plan(d, b0, n), 1.0, w.data(), dpre.data(), 0.0, cols.data());
      for (std::int64_t e = 0; e < n * d.time * d.dim; ++e) {
        double sum = 0;
        for (std::int64_t j = 0; j < d.kernel; ++j) {
          const std::int64_t src = cd::pos_conv_col2im_source(d, e, j);
          if (src >= 0) sum += cols[src];
        }
        pdx[b0 * d.time * d.dim + e] += sum;
      }
    }
    CHECK(max_abs_difference(grad_w, ws.grad_w) < 1e-12);
    const auto dots = tap_sums(d, v.data(), grad_w.data());
    for (std::size_t j = 0; j < k; ++j) pdg[j] += dots[j] / norm[j];
    for (std::int64_t e = 0; e < static_cast<std::int64_t>(weights); ++e) {
      const std::int64_t j = e % d.kernel;
      const double dw = grad_w[cd::pos_conv_weight_index(d, e / d.kernel, j)];
      pdv[e] += gain[j] / norm[j] * (dw - v[e] * dots[j] / (norm[j] * norm[j]));
    }
    CHECK(max_abs_difference(pdx, dx) < 1e-12);
    CHECK(max_abs_difference(pdv, dv) < 1e-12);
    CHECK(max_abs_difference(pdg, dgain) < 1e-12);
    CHECK(max_abs_difference(pdb, db) < 1e-12);
  }
}

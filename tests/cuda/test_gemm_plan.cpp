// Host tests of the CUDA backend's cuBLAS calls (cuda/detail/gemm_plan.cuh): every op's GEMMs
// are executed by a naive column-major run_on_host, with the host halves of the kernels written
// out here from the index functions, and compared with the host twins (linear, conv1d) and the
// naive attention reference. This checks the row-major <-> column-major mapping, offsets and
// strides without a GPU.
#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/detail/gemm_plan.cuh>
#include <ecgssl/cuda/detail/index_math.cuh>
#include <ecgssl/nn/detail/conv1d_kernels.hpp>
#include <ecgssl/nn/detail/linear_kernels.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "attention_reference.hpp"

namespace cd = ecgssl::cuda_detail;

#include "gpu_test_support.hpp"

namespace {

std::vector<double> random_values(std::size_t n, std::uint64_t stream, double scale = 1.0) {
  return gpu_test::random_values(77, n, stream, scale);
}
using gpu_test::max_abs_difference;

}  // namespace

TEST_CASE("linear gemm plans reproduce the host linear twin") {
  using host_k = ecgssl::implementation<ecgssl::nn::detail::linear_op, ecgssl::host>;
  const std::int64_t rows = 7, in = 5, out = 3;
  const auto x = random_values(rows * in, 1), w = random_values(out * in, 2),
             dy = random_values(rows * out, 3);
  const auto g0x = random_values(rows * in, 4), g0w = random_values(out * in, 5);
  std::vector<double> y(rows * out), dx = g0x, dw = g0w, db(out, 0.0);
  host_k::forward(x.data(), w.data(), static_cast<const double*>(nullptr), y.data(), rows, in, out);
  host_k::backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), rows, in, out);

  std::vector<double> py(rows * out, 123.0), pdx = g0x, pdw = g0w;
  cd::run_on_host(cd::linear_forward_plan(rows, in, out), 1.0, w.data(), x.data(), 0.0, py.data());
  cd::run_on_host(cd::linear_input_grad_plan(rows, in, out), 1.0, w.data(), dy.data(), 1.0,
                  pdx.data());
  cd::run_on_host(cd::linear_weight_grad_plan(rows, in, out), 1.0, x.data(), dy.data(), 1.0,
                  pdw.data());
  CHECK(max_abs_difference(py, y) < 1e-13);
  CHECK(max_abs_difference(pdx, dx) < 1e-13);
  CHECK(max_abs_difference(pdw, dw) < 1e-13);
}

namespace {

// The conv1d CUDA algorithm with its kernels written as host loops over the same index functions.
void conv1d_by_plans(const ecgssl::nn::detail::conv1d_geometry& g, std::int64_t chunk,
                     const std::vector<double>& x, const std::vector<double>& w,
                     const std::vector<double>& dy, std::vector<double>& y, std::vector<double>& dx,
                     std::vector<double>& dw) {
  cd::conv1d_dims d;
  d.batch = std::int64_t(g.batch), d.in_channels = std::int64_t(g.in_channels);
  d.out_channels = std::int64_t(g.out_channels), d.length = std::int64_t(g.length);
  d.out_length = std::int64_t(g.out_length), d.kernel = std::int64_t(g.kernel),
  d.stride = std::int64_t(g.stride);
  d.padding = std::int64_t(g.padding), d.dilation = std::int64_t(g.dilation),
  d.groups = std::int64_t(g.groups);
  const std::int64_t rows = d.in_channels * d.kernel;
  std::vector<double> cols(static_cast<std::size_t>(chunk * rows * d.out_length));
  auto im2col = [&](std::int64_t b0, std::int64_t n) {
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t c = 0; c < d.in_channels; ++c)
        for (std::int64_t k = 0; k < d.kernel; ++k)
          for (std::int64_t t = 0; t < d.out_length; ++t) {
            const std::int64_t src = cd::im2col_source(d, k, t);
            cols[std::size_t(((b * rows) + c * d.kernel + k) * d.out_length + t)] =
                src < 0 ? 0.0 : x[std::size_t(((b0 + b) * d.in_channels + c) * d.length + src)];
          }
  };
  for (std::int64_t b0 = 0; b0 < d.batch; b0 += chunk) {
    const std::int64_t n = std::min(chunk, d.batch - b0);
    im2col(b0, n);
    for (std::int64_t group = 0; group < d.groups; ++group) {
      cd::run_on_host(cd::conv1d_forward_plan(d.in_channels, d.out_channels, d.groups, d.kernel,
                                              d.out_length, group, b0, n),
                      1.0, cols.data(), w.data(), 0.0, y.data());
    }
  }
  for (std::int64_t b0 = 0; b0 < d.batch; b0 += chunk) {
    const std::int64_t n = std::min(chunk, d.batch - b0);
    for (std::int64_t group = 0; group < d.groups; ++group) {
      cd::run_on_host(cd::conv1d_cols_grad_plan(d.in_channels, d.out_channels, d.groups, d.kernel,
                                                d.out_length, group, b0, n),
                      1.0, dy.data(), w.data(), 0.0, cols.data());
    }
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t c = 0; c < d.in_channels; ++c)
        for (std::int64_t xpos = 0; xpos < d.length; ++xpos) {
          double sum = 0;
          for (std::int64_t k = 0; k < d.kernel; ++k) {
            const std::int64_t t = cd::col2im_target(d, k, xpos);
            if (t >= 0) sum += cols[std::size_t((b * rows + c * d.kernel + k) * d.out_length + t)];
          }
          dx[std::size_t(((b0 + b) * d.in_channels + c) * d.length + xpos)] += sum;
        }
  }
  for (std::int64_t b0 = 0; b0 < d.batch; b0 += chunk) {
    const std::int64_t n = std::min(chunk, d.batch - b0);
    im2col(b0, n);
    for (std::int64_t b = 0; b < n; ++b) {
      cd::run_on_host(cd::conv1d_weight_grad_plan(d.in_channels, d.out_channels, d.groups, d.kernel,
                                                  d.out_length, b0 + b, b),
                      1.0, cols.data(), dy.data(), 1.0, dw.data());
    }
  }
}

}  // namespace

TEST_CASE("conv1d gemm plans and gather col2im reproduce the host conv1d twin") {
  using host_k = ecgssl::implementation<ecgssl::nn::detail::conv1d_op, ecgssl::host>;
  struct shape {
    std::size_t batch, cin, cout, length, kernel, stride, padding, dilation, groups;
    std::int64_t chunk;
  };
  for (const shape& s :
       {shape{3, 4, 6, 30, 10, 5, 0, 1, 1, 3}, shape{3, 6, 4, 21, 3, 2, 3, 2, 1, 2},
        shape{3, 8, 8, 17, 4, 1, 2, 1, 4, 1}, shape{2, 2, 2, 9, 2, 2, 0, 1, 2, 2}}) {
    ecgssl::nn::detail::conv1d_geometry g;
    g.batch = s.batch, g.in_channels = s.cin, g.out_channels = s.cout, g.length = s.length,
    g.kernel = s.kernel;
    g.stride = s.stride, g.padding = s.padding, g.dilation = s.dilation, g.groups = s.groups;
    g.out_length = (g.length + 2 * g.padding - g.dilation * (g.kernel - 1) - 1) / g.stride + 1;
    const std::size_t nx = g.batch * g.in_channels * g.length,
                      nw = g.out_channels * g.in_per_group() * g.kernel;
    const std::size_t ny = g.batch * g.out_channels * g.out_length;
    const auto x = random_values(nx, 10), w = random_values(nw, 11), dy = random_values(ny, 12);
    const auto g0x = random_values(nx, 13), g0w = random_values(nw, 14);
    std::vector<double> y(ny), dx = g0x, dw = g0w;
    host_k::workspace<double> ws;
    host_k::forward(g, x.data(), w.data(), static_cast<const double*>(nullptr), y.data(), ws);
    host_k::backward(g, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                     static_cast<double*>(nullptr), ws);
    std::vector<double> py(ny, 5.0), pdx = g0x, pdw = g0w;
    conv1d_by_plans(g, s.chunk, x, w, dy, py, pdx, pdw);
    CHECK(max_abs_difference(py, y) < 1e-12);
    CHECK(max_abs_difference(pdx, dx) < 1e-12);
    CHECK(max_abs_difference(pdw, dw) < 1e-12);
  }
}

namespace {

// The pointer arrays that fill_gemm_pointers writes, written here by its host half.
std::vector<double*> pointer_arrays(const cd::gemm_pointer_pass<double>& pass) {
  std::vector<double*> arrays(static_cast<std::size_t>(pass.entries));
  for (std::int64_t e = 0; e < pass.entries; ++e)
    arrays[std::size_t(e)] = cd::gemm_pointer_entry(pass, e);
  return arrays;
}

// Job j of a pass as cuBLAS's pointer-array batched GEMM runs it (A, B, C arrays in a row).
void run_job_on_host(const cd::gemm_pointer_pass<double>& pass, int j,
                     const std::vector<double*>& arrays, double alpha, double beta) {
  const auto& job = pass.jobs[j];
  double* const* a = arrays.data() + job.first;
  cd::run_pointers_on_host(job.plan, alpha, a, a + job.plan.batch, beta, a + 2 * job.plan.batch);
}

// The CUDA attention core's sequence (attention_kernels.cuh) with its kernels' host halves:
// one pointer-array batched GEMM per product over all batch x heads pairs.
ecgssl_test::attention_reference attention_by_plans(std::int64_t B, std::int64_t L, std::int64_t D,
                                                    std::int64_t H, const std::vector<double>& q,
                                                    const std::vector<double>& k,
                                                    const std::vector<double>& v,
                                                    const std::vector<std::uint8_t>& pad,
                                                    const std::vector<double>* drop,
                                                    const std::vector<double>& dctx) {
  const double scale = 1.0 / std::sqrt(double(D / H));
  ecgssl_test::attention_reference r;
  r.probs.assign(std::size_t(B * H * L * L), 7.0);  // overwritten (beta 0)
  r.ctx.assign(std::size_t(B * L * D), 7.0);
  r.dq.assign(std::size_t(B * L * D), 0.0);
  r.dk = r.dq, r.dv = r.dq;
  std::vector<double> weighted(r.probs.size()), grad(r.probs.size(), 7.0);
  const double* weights = drop != nullptr ? weighted.data() : r.probs.data();
  const auto fwd = cd::attention_forward_pass(B, L, D, H, q.data(), k.data(), v.data(), weights,
                                              r.probs.data(), r.ctx.data());
  const auto fwd_arrays = pointer_arrays(fwd);
  run_job_on_host(fwd, 0, fwd_arrays, scale, 0.0);
  for (std::int64_t row = 0; row < B * H * L; ++row) {  // what masked_softmax_rows does
    double* p = r.probs.data() + row * L;
    const std::int64_t b = row / (H * L);
    double mx = -1e300, sum = 0;
    for (std::int64_t j = 0; j < L; ++j) {
      if (pad[std::size_t(b * L + j)]) p[j] = -std::numeric_limits<double>::infinity();
      mx = std::max(mx, p[j]);
    }
    for (std::int64_t j = 0; j < L; ++j) sum += (p[j] = std::exp(p[j] - mx));
    for (std::int64_t j = 0; j < L; ++j) p[j] /= sum;
  }
  if (drop != nullptr)
    for (std::size_t i = 0; i < r.probs.size(); ++i) weighted[i] = r.probs[i] * (*drop)[i];
  run_job_on_host(fwd, 1, fwd_arrays, 1.0, 0.0);

  const auto bwd =
      cd::attention_backward_pass(B, L, D, H, q.data(), k.data(), v.data(), weights, dctx.data(),
                                  grad.data(), r.dq.data(), r.dk.data(), r.dv.data());
  const auto bwd_arrays = pointer_arrays(bwd);
  run_job_on_host(bwd, 0, bwd_arrays, 1.0, 0.0);
  run_job_on_host(bwd, 1, bwd_arrays, 1.0, 1.0);
  for (std::int64_t row = 0; row < B * H * L; ++row) {  // what softmax_backward_rows does
    const double* p = r.probs.data() + row * L;
    double* g = grad.data() + row * L;
    double dot = 0;
    for (std::int64_t j = 0; j < L; ++j) {
      if (drop != nullptr) g[j] *= (*drop)[std::size_t(row * L + j)];
      dot += g[j] * p[j];
    }
    for (std::int64_t j = 0; j < L; ++j) g[j] = p[j] * (g[j] - dot) * scale;
  }
  run_job_on_host(bwd, 2, bwd_arrays, 1.0, 1.0);
  run_job_on_host(bwd, 3, bwd_arrays, 1.0, 1.0);
  return r;
}

}  // namespace

TEST_CASE("attention pointer arrays start every sample and head where the layout puts them") {
  // q/k/v/ctx [B, T, D]: head h of sample b at b*T*D + h*dh; probs [B, H, T, T] at (b*H + h)*T*T.
  const std::int64_t B = 3, L = 5, D = 12, H = 4, dh = 3;
  std::vector<double> q(B * L * D), k(q.size()), v(q.size()), ctx(q.size()), dctx(q.size()),
      dq(q.size()), dk(q.size()), dv(q.size()), probs(B * H * L * L), w(probs.size()),
      grad(probs.size());
  const auto fwd = cd::attention_forward_pass(B, L, D, H, q.data(), k.data(), v.data(), w.data(),
                                              probs.data(), ctx.data());
  const auto bwd =
      cd::attention_backward_pass(B, L, D, H, q.data(), k.data(), v.data(), w.data(), dctx.data(),
                                  grad.data(), dq.data(), dk.data(), dv.data());
  REQUIRE(fwd.count == 2);
  REQUIRE(bwd.count == 4);
  CHECK(fwd.entries == 2 * 3 * B * H);
  CHECK(bwd.entries == 4 * 3 * B * H);
  const auto fa = pointer_arrays(fwd), ba = pointer_arrays(bwd);
  const std::int64_t n = B * H;
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t h = 0; h < H; ++h) {
      const std::int64_t i = b * H + h, head = b * L * D + h * dh, prob = (b * H + h) * L * L;
      // forward: scores (k, q -> probs), context (v, w -> ctx)
      CHECK(fa[std::size_t(i)] == k.data() + head);
      CHECK(fa[std::size_t(n + i)] == q.data() + head);
      CHECK(fa[std::size_t(2 * n + i)] == probs.data() + prob);
      CHECK(fa[std::size_t(3 * n + i)] == v.data() + head);
      CHECK(fa[std::size_t(4 * n + i)] == w.data() + prob);
      CHECK(fa[std::size_t(5 * n + i)] == ctx.data() + head);
      // backward: (v, dctx -> grad), (dctx, w -> dv), (k, grad -> dq), (q, grad -> dk)
      const double* expected[12] = {v.data(),  dctx.data(), grad.data(), dctx.data(),
                                    w.data(),  dv.data(),   k.data(),    grad.data(),
                                    dq.data(), q.data(),    grad.data(), dk.data()};
      const bool is_prob[12] = {false, false, true,  false, true, false,
                                false, true,  false, false, true, false};
      for (int slot = 0; slot < 12; ++slot) {
        CHECK(ba[std::size_t(slot * n + i)] == expected[slot] + (is_prob[slot] ? prob : head));
      }
    }
  }
}

TEST_CASE("attention gemm plans with host softmax reproduce the naive attention reference") {
  struct shape {
    std::int64_t B, L, D, H;
    bool dropout;
  };
  for (const shape& s : {shape{2, 6, 8, 2, true}, shape{3, 5, 12, 3, false},
                         shape{2, 4, 6, 1, true}, shape{1, 7, 16, 4, true}}) {
    CAPTURE(s.B);
    CAPTURE(s.H);
    const std::int64_t B = s.B, L = s.L, D = s.D, H = s.H;
    const auto q = random_values(B * L * D, 20, 2.0), k = random_values(B * L * D, 21, 2.0);
    const auto v = random_values(B * L * D, 22), dctx = random_values(B * L * D, 23);
    std::vector<std::uint8_t> pad(B * L, 0);
    pad[std::size_t((B - 1) * L + L - 1)] = pad[std::size_t((B - 1) * L + L - 2)] = 1;
    std::vector<double> drop(B * H * L * L, 1.0);
    const ecgssl::random_stream rng(1, 2);
    if (s.dropout)
      for (std::size_t i = 0; i < drop.size(); ++i)
        drop[i] = rng.uniform_float(i) >= 0.25f ? 1.0 / 0.75 : 0.0;
    const auto ref = ecgssl_test::naive_attention(B, L, D, H, q, k, v, pad, drop, dctx);
    const auto got =
        attention_by_plans(B, L, D, H, q, k, v, pad, s.dropout ? &drop : nullptr, dctx);
    CHECK(max_abs_difference(got.probs, ref.probs) < 1e-13);
    CHECK(max_abs_difference(got.ctx, ref.ctx) < 1e-13);
    CHECK(max_abs_difference(got.dv, ref.dv) < 1e-13);
    CHECK(max_abs_difference(got.dq, ref.dq) < 1e-13);
    CHECK(max_abs_difference(got.dk, ref.dk) < 1e-13);
  }
}

TEST_CASE("two-level plans run from offsets equal the same plans run from pointer arrays") {
  // run_on_host reads the plan's offsets and strides, the pointer path the filled arrays: the
  // two must agree entry for entry (C starts non-zero so that beta 1 accumulates).
  const std::int64_t B = 2, L = 5, D = 12, H = 3;
  const auto q = random_values(B * L * D, 30), k = random_values(B * L * D, 31),
             v = random_values(B * L * D, 32), w = random_values(B * H * L * L, 33);
  const auto c0 = random_values(B * L * D, 34), p0 = random_values(B * H * L * L, 35);
  std::vector<double> probs_a = p0, probs_b = p0, ctx_a = c0, ctx_b = c0;
  const auto fwd = cd::attention_forward_pass(B, L, D, H, q.data(), k.data(), v.data(), w.data(),
                                              probs_b.data(), ctx_b.data());
  const auto arrays = pointer_arrays(fwd);
  cd::run_on_host(fwd.jobs[0].plan, 0.5, k.data(), q.data(), 1.0, probs_a.data());
  cd::run_on_host(fwd.jobs[1].plan, 1.5, v.data(), w.data(), 1.0, ctx_a.data());
  run_job_on_host(fwd, 0, arrays, 0.5, 1.0);
  run_job_on_host(fwd, 1, arrays, 1.5, 1.0);
  CHECK(max_abs_difference(probs_a, probs_b) == 0.0);
  CHECK(max_abs_difference(ctx_a, ctx_b) == 0.0);
  CHECK(max_abs_difference(probs_a, p0) > 0.1);
}

#pragma once
// Naive attention core in double, straight from the formulas of spec §3.7: the oracle of the
// CUDA attention core (test_gpu_parity.cu) and of its GEMM plans run on the host
// (test_gemm_plan.cpp). probs: [B, H, L, L] before dropout; ctx, dq, dk, dv: [B, L, D].

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace ecgssl_test {

// Naive attention core in double (the oracle): loops straight from the formulas of spec §3.7.
struct attention_reference {
  std::vector<double> probs, ctx, dq, dk, dv;
};
template <class T>
attention_reference naive_attention(std::size_t B, std::size_t L, std::size_t D, std::size_t H,
                                    const std::vector<T>& q, const std::vector<T>& k,
                                    const std::vector<T>& v, const std::vector<std::uint8_t>& pad,
                                    const std::vector<T>& drop, const std::vector<T>& dctx) {
  const std::size_t dh = D / H;
  const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
  attention_reference r;
  r.probs.assign(B * H * L * L, 0.0);
  r.ctx.assign(B * L * D, 0.0);
  r.dq.assign(B * L * D, 0.0);
  r.dk.assign(B * L * D, 0.0);
  r.dv.assign(B * L * D, 0.0);
  auto at = [&](std::size_t b, std::size_t t, std::size_t h, std::size_t c) {
    return (b * L + t) * D + h * dh + c;
  };
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t h = 0; h < H; ++h) {
      double* P = r.probs.data() + (b * H + h) * L * L;
      const T* S = drop.data() + (b * H + h) * L * L;
      for (std::size_t i = 0; i < L; ++i) {
        double mx = -std::numeric_limits<double>::infinity(), sum = 0;
        for (std::size_t j = 0; j < L; ++j) {
          double sc = 0;
          for (std::size_t c = 0; c < dh; ++c)
            sc += double(q[at(b, i, h, c)]) * double(k[at(b, j, h, c)]);
          P[i * L + j] = pad[b * L + j] ? -std::numeric_limits<double>::infinity() : sc * scale;
          mx = std::max(mx, P[i * L + j]);
        }
        for (std::size_t j = 0; j < L; ++j) sum += (P[i * L + j] = std::exp(P[i * L + j] - mx));
        for (std::size_t j = 0; j < L; ++j) P[i * L + j] /= sum;
        for (std::size_t c = 0; c < dh; ++c) {
          double acc = 0;
          for (std::size_t j = 0; j < L; ++j)
            acc += P[i * L + j] * double(S[i * L + j]) * double(v[at(b, j, h, c)]);
          r.ctx[at(b, i, h, c)] = acc;
        }
      }
      // Backward: W = P .* S; dW = dC V^T; dV = W^T dC; dP = dW .* S; dS = P .* (dP - <dP, P>) *
      // scale.
      std::vector<double> dS(L * L);
      for (std::size_t i = 0; i < L; ++i) {
        double dot = 0;
        for (std::size_t j = 0; j < L; ++j) {
          double dw = 0;
          for (std::size_t c = 0; c < dh; ++c)
            dw += double(dctx[at(b, i, h, c)]) * double(v[at(b, j, h, c)]);
          dS[i * L + j] = dw * double(S[i * L + j]);
          dot += dS[i * L + j] * P[i * L + j];
        }
        for (std::size_t j = 0; j < L; ++j)
          dS[i * L + j] = P[i * L + j] * (dS[i * L + j] - dot) * scale;
      }
      for (std::size_t j = 0; j < L; ++j) {
        for (std::size_t c = 0; c < dh; ++c) {
          double dvv = 0, dkk = 0, dqq = 0;
          for (std::size_t i = 0; i < L; ++i) {
            dvv += P[i * L + j] * double(S[i * L + j]) * double(dctx[at(b, i, h, c)]);
            dkk += dS[i * L + j] * double(q[at(b, i, h, c)]);
            dqq += dS[j * L + i] * double(k[at(b, i, h, c)]);
          }
          r.dv[at(b, j, h, c)] = dvv;
          r.dk[at(b, j, h, c)] = dkk;
          r.dq[at(b, j, h, c)] = dqq;
        }
      }
    }
  }
  return r;
}

}  // namespace ecgssl_test

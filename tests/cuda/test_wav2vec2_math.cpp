// Compiled by the host compiler: the math of wav2vec2_contrastive<T, cuda>
// (cuda/detail/wav2vec2_math.cuh) run on the host in the kernels' order (one frame at a time,
// norms through the fixed lane/tree reduction, GEMMs through run_on_host of the same plans),
// against wav2vec2_contrastive<T, host> (checked against PyTorch fixtures and finite differences
// in tests/loss), for each identical-negative mode, with repeated negatives and K > M.
#include <ecgssl/cuda/detail/wav2vec2_math.cuh>
#include <ecgssl/loss/wav2vec2_contrastive.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <ecgssl/core/philox.hpp>

namespace w = ecgssl::cuda_detail::w2v;
namespace cm = ecgssl::cuda_detail::cmsc;

#include "gpu_test_support.hpp"
#include "kernel_replay.hpp"

namespace {

using gpu_test::replay::tree_sum;

template <class T, std::size_t N>
ecgssl::tensor<T, N> random_tensor(const std::array<std::size_t, N>& shape, std::uint64_t stream, double scale = 1.0) {
  return gpu_test::random_tensor<T, N>(93, shape, stream, scale);
}
using gpu_test::relative_difference;

template <class T>
void check_against_host(std::size_t segments, std::size_t masked, std::size_t dim, std::size_t k,
                        ecgssl::identical_negatives identical, std::uint64_t seed) {
  CAPTURE(static_cast<int>(identical));
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  ecgssl::contrastive_input<T> in{random_tensor<T, 3>({segments, masked, dim}, seed),
                                  random_tensor<T, 3>({segments, masked, dim}, seed + 1)};
  // Identical targets: frames 1 and 3 of segment 0 (by value) / equal codes for them.
  for (std::size_t d = 0; d < dim; ++d) in.targets(0, 3, d) = in.targets(0, 1, d);
  ecgssl::tensor<std::int64_t, 2> codes({segments, masked});
  for (std::size_t i = 0; i < codes.size(); ++i) codes.data()[i] = static_cast<std::int64_t>(i);
  codes(0, 3) = codes(0, 1);
  ecgssl::wav2vec2_contrastive_options options;
  options.num_negatives = k;
  options.identical = identical;
  options.seed = 5;
  ecgssl::wav2vec2_contrastive<T> host(options);
  host.set_target_codes(codes);
  const T host_loss = host.forward(in);
  ecgssl::contrastive_input<T> host_grad{random_tensor<T, 3>({segments, masked, dim}, seed + 2),
                                         random_tensor<T, 3>({segments, masked, dim}, seed + 3)};
  auto emu_dc = host_grad.predictions;
  auto emu_dq = host_grad.targets;
  host.backward(T(0.6), host_grad);

  const std::size_t rows = segments * masked;
  const T eps = static_cast<T>(options.cosine_eps);
  std::vector<T> c_hat, q_hat, c_norm, q_norm;
  gpu_test::replay::normalize_rows(in.predictions.data(), rows, dim, eps, c_hat, c_norm);
  gpu_test::replay::normalize_rows(in.targets.data(), rows, dim, eps, q_hat, q_norm);
  const auto si = static_cast<std::int64_t>(segments), mi = static_cast<std::int64_t>(masked),
             di = static_cast<std::int64_t>(dim);
  std::vector<T> cos(segments * masked * masked, T(9));
  ecgssl::cuda_detail::run_on_host(w::cosines_plan(si, mi, di), T(1), q_hat.data(), c_hat.data(), T(0), cos.data());
  const int mode = identical == ecgssl::identical_negatives::by_value  ? w::by_value
                   : identical == ecgssl::identical_negatives::by_code ? w::by_code
                                                                       : w::keep;
  const auto& neg = host.negatives();
  std::vector<T> probs(rows * (k + 1)), frame_loss(rows);
  for (std::size_t f = 0; f < rows; ++f) {
    const std::size_t s = f / masked, t = f % masked;
    frame_loss[f] = w::frame_forward(cos.data() + s * masked * masked, neg.data() + f * k, masked, k, t,
                                     static_cast<T>(1.0 / options.temperature), mode, in.targets.data() + s * masked * dim,
                                     codes.data() + s * masked, dim, probs.data() + f * (k + 1));
  }
  CHECK(relative_difference(frame_loss.data(), host.frame_losses().data(), rows) <= tol);
  CHECK(relative_difference(probs.data(), host.probabilities().data(), probs.size()) <= tol);
  std::vector<cm::acc_t<T>> ps(cm::lanes, 0);
  for (std::size_t i = 0; i < rows; ++i) ps[i % cm::lanes] += frame_loss[i];
  const T loss = static_cast<T>(tree_sum(ps));
  CHECK(std::abs(static_cast<double>(loss) - host_loss) <= tol * std::abs(static_cast<double>(host_loss)));
  // The identical negative: probability exactly 0 unless kept.
  bool masked_seen = false;
  for (std::size_t j = 0; j < k; ++j) {
    if (neg(0, 1, j) == 3) {
      masked_seen = true;
      CHECK((probs[1 * (k + 1) + j + 1] == T(0)) == (identical != ecgssl::identical_negatives::keep));
    }
  }
  if (k >= 3 * masked) CHECK(masked_seen);  // with few draws frame 1 may not pick frame 3

  const T scale = T(0.6) / static_cast<T>(options.temperature);
  std::vector<T> dcos(segments * masked * masked, T(4));
  for (std::size_t f = 0; f < rows; ++f) {
    const std::size_t s = f / masked, t = f % masked;
    w::frame_dcos(probs.data() + f * (k + 1), neg.data() + f * k, masked, k, t, scale, dcos.data() + s * masked * masked);
  }
  std::vector<T> dc_hat(rows * dim, T(3)), dq_hat(rows * dim, T(3));
  ecgssl::cuda_detail::run_on_host(w::prediction_grad_plan(si, mi, di), T(1), q_hat.data(), dcos.data(), T(0), dc_hat.data());
  ecgssl::cuda_detail::run_on_host(w::target_grad_plan(si, mi, di), T(1), c_hat.data(), dcos.data(), T(0), dq_hat.data());
  gpu_test::replay::normalize_rows_backward(c_hat, c_norm, dc_hat, rows, dim, eps, emu_dc.data());
  gpu_test::replay::normalize_rows_backward(q_hat, q_norm, dq_hat, rows, dim, eps, emu_dq.data());
  CHECK(relative_difference(emu_dc.data(), host_grad.predictions.data(), emu_dc.size()) <= tol);
  CHECK(relative_difference(emu_dq.data(), host_grad.targets.data(), emu_dq.size()) <= tol);
}

}  // namespace

TEST_CASE_TEMPLATE("wav2vec2 cuda math equals the host wav2vec2_contrastive, every identical-negative mode", T, float,
                   double) {
  for (const auto mode : {ecgssl::identical_negatives::by_value, ecgssl::identical_negatives::by_code,
                          ecgssl::identical_negatives::keep}) {
    check_against_host<T>(3, 6, 10, 20, mode, 1);  // K > M: repeated negatives
  }
  check_against_host<T>(2, 12, 300, 5, ecgssl::identical_negatives::by_value, 7);  // dim past 256 lanes
}

TEST_CASE("wav2vec2 cuda math by hand: one negative, orthogonal vectors, kappa 1") {
  // M = 2, K = 1: frame 0's positive cos 1, negative cos 0 -> loss log(1 + e^-1).
  const double cos[4] = {1.0, 0.0, 0.0, 1.0};
  const std::int64_t neg[1] = {1};
  const double q[4] = {1.0, 0.0, 0.0, 1.0};
  double probs[2];
  const double loss = w::frame_forward(cos, neg, 2, 1, 0, 1.0, w::by_value, q, static_cast<const std::int64_t*>(nullptr), 2, probs);
  CHECK(loss == doctest::Approx(std::log(1.0 + std::exp(-1.0))).epsilon(1e-14));
  CHECK(probs[0] + probs[1] == doctest::Approx(1.0).epsilon(1e-15));
  const double same_q[4] = {1.0, 0.0, 1.0, 0.0};
  CHECK(w::frame_forward(cos, neg, 2, 1, 0, 1.0, w::by_value, same_q, static_cast<const std::int64_t*>(nullptr), 2, probs) == 0.0);
  CHECK(probs[1] == 0.0);
}

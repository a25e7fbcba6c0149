// Tests of pipeline/pretraining/identity_nt_xent_criterion.hpp (3KG's criterion, spec §4.5) on a small
// linear stand-in for the encoder: the loss against a direct evaluation of the formula, the
// identity rule, and a central-difference gradient check in double through pooling and NT-Xent.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "ecgssl/model/ecg_transformer.hpp"
#include "ecgssl/pipeline/pretraining/identity_nt_xent_criterion.hpp"

using namespace ecgssl;
using namespace ecgssl::pipeline;

namespace {

/// encoded[s, f, d] = Σ_l w[d, l] · x[s, l, f]: leads = 2, frames = samples, dim = 3.
struct linear_encoder {
  using scalar_type = double;
  struct outputs {
    tensor<double, 3> encoded;
  };
  struct gradients {
    tensor<double, 3> encoded;
  };
  std::vector<double> w = std::vector<double>(6), dw = std::vector<double>(6, 0.0);
  tensor<double, 3> x;
  outputs out;

  void forward(const tensor<double, 3>& in) {
    x = in;
    const std::size_t s_count = in.shape()[0], frames = in.shape()[2];
    out.encoded = tensor<double, 3>::from_shape({s_count, frames, 3});
    for (std::size_t s = 0; s < s_count; ++s) {
      for (std::size_t f = 0; f < frames; ++f) {
        for (std::size_t d = 0; d < 3; ++d) out.encoded(s, f, d) = w[d * 2] * in(s, 0, f) + w[d * 2 + 1] * in(s, 1, f);
      }
    }
  }
  [[nodiscard]] const outputs& last_outputs() const { return out; }
  void backward(const gradients& g) {
    for (std::size_t s = 0; s < x.shape()[0]; ++s) {
      for (std::size_t f = 0; f < x.shape()[2]; ++f) {
        for (std::size_t d = 0; d < 3; ++d) {
          dw[d * 2] += g.encoded(s, f, d) * x(s, 0, f);
          dw[d * 2 + 1] += g.encoded(s, f, d) * x(s, 1, f);
        }
      }
    }
  }
};

/// 6 segments = 3 items × 2 views; items 0 and 2 come from record 4, item 1 from record 7.
data::batch make_batch() {
  data::batch b;
  b.signals = tensor<float, 3>::from_shape({6, 2, 5});
  for (std::size_t i = 0; i < b.signals.size(); ++i) {
    b.signals.data()[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i) + 0.3) + 0.1 * static_cast<double>(i % 3));
  }
  for (std::size_t s = 0; s < 6; ++s) {
    b.signals(s, 0, 4) = 0.0f;  // a silent frame: the pooled mean divides by 4 frames, not 5
    b.signals(s, 1, 4) = 0.0f;
  }
  b.meta.resize(6);
  b.items = {0, 0, 1, 1, 2, 2};
  const std::int64_t records[] = {4, 4, 7, 7, 4, 4};
  for (std::size_t s = 0; s < 6; ++s) b.meta[s].identity = records[s];
  b.kept_leads.assign(6, 3u);
  return b;
}

/// The 3KG loss evaluated directly: mean over ordered same-identity pairs (i, j), i != j, of
/// -s_ij + log(exp(s_ij) + Σ_{k: id_k != id_i} exp(s_ik)), s = cos / τ, pooled over the non-zero frames.
/// `frozen_norms` replaces ‖g_s‖ (the reference detaches the norm, so its gradient is that of this
/// function with the norms held at their current values).
double direct_loss(const linear_encoder& e, const std::vector<std::int64_t>& ids, double tau,
                   std::vector<double>* norms_out = nullptr, const std::vector<double>* frozen_norms = nullptr) {
  const auto& y = e.out.encoded;
  const std::size_t n = y.shape()[0], frames = y.shape()[1];
  std::vector<std::vector<double>> g(n, std::vector<double>(3, 0.0));
  for (std::size_t s = 0; s < n; ++s) {
    for (std::size_t d = 0; d < 3; ++d) {
      double sum = 0;
      int count = 0;
      for (std::size_t f = 0; f < frames; ++f) {
        sum += y(s, f, d);
        count += y(s, f, d) != 0.0;
      }
      g[s][d] = sum / count;
    }
  }
  std::vector<double> norms(n);
  for (std::size_t s = 0; s < n; ++s) {
    norms[s] = frozen_norms ? (*frozen_norms)[s] : std::sqrt(g[s][0] * g[s][0] + g[s][1] * g[s][1] + g[s][2] * g[s][2]);
  }
  if (norms_out) *norms_out = norms;
  const auto cos = [&](std::size_t a, std::size_t b) {
    double ab = 0;
    for (std::size_t d = 0; d < 3; ++d) ab += g[a][d] * g[b][d];
    return ab / (norms[a] * norms[b]);
  };
  double total = 0;
  int pairs = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double negatives = 0;
    for (std::size_t k = 0; k < n; ++k) {
      if (ids[k] != ids[i]) negatives += std::exp(cos(i, k) / tau);
    }
    for (std::size_t j = 0; j < n; ++j) {
      if (j == i || ids[j] != ids[i]) continue;
      total += -cos(i, j) / tau + std::log(std::exp(cos(i, j) / tau) + negatives);
      ++pairs;
    }
  }
  return total / pairs;
}

}  // namespace

static_assert(pretraining_criterion<identity_nt_xent_criterion<float>, model::ecg_transformer<model::tiny_config<float>>>);

TEST_CASE("3kg criterion: positives are the segments of one identity; the loss is the formula's") {
  const auto b = make_batch();
  linear_encoder e;
  e.w = {0.8, -0.3, 0.2, 0.9, -0.5, 0.4};
  identity_nt_xent_criterion<double> c;  // τ 0.1
  const auto r = c.run(e, b, 0);
  // record 4: 4 segments -> 12 ordered pairs; record 7: 2 segments -> 2
  CHECK(c.positive_pairs() == 14);
  CHECK(r.sample_size == 1.0);
  REQUIRE(r.terms.size() == 1);
  CHECK(r.terms[0].first == "nt_xent");
  CHECK(r.loss_sum == doctest::Approx(direct_loss(e, {4, 4, 7, 7, 4, 4}, 0.1)).epsilon(1e-12));

  // without identification labels only the two views of an item are positives
  auto unlabelled = b;
  for (auto& m : unlabelled.meta) m.identity = -1;
  CHECK(identity_nt_xent_criterion<double>::identity_of(unlabelled, 2) == identity_nt_xent_criterion<double>::identity_of(unlabelled, 3));
  CHECK(identity_nt_xent_criterion<double>::identity_of(unlabelled, 0) != identity_nt_xent_criterion<double>::identity_of(unlabelled, 4));
  linear_encoder e2;
  e2.w = e.w;
  identity_nt_xent_criterion<double> c2(0.5);
  const auto r2 = c2.run(e2, unlabelled, 0);
  CHECK(c2.positive_pairs() == 6);
  CHECK(r2.loss_sum == doctest::Approx(direct_loss(e2, {-1, -1, -2, -2, -3, -3}, 0.5)).epsilon(1e-12));
}

TEST_CASE("3kg criterion: encoder gradients match central differences with detached norms (double)") {
  const auto b = make_batch();
  const std::vector<std::int64_t> ids = {4, 4, 7, 7, 4, 4};
  const std::vector<double> w0 = {0.8, -0.3, 0.2, 0.9, -0.5, 0.4};
  linear_encoder e;
  e.w = w0;
  identity_nt_xent_criterion<double> c;
  c.run(e, b, 0);
  const auto analytic = e.dw;
  double size = 0;
  for (double v : analytic) size += std::abs(v);
  CHECK(size > 1e-3);
  std::vector<double> norms;
  direct_loss(e, ids, 0.1, &norms);
  tensor<double, 3> x = b.signals;
  const double h = 1e-6;
  for (std::size_t p = 0; p < w0.size(); ++p) {
    CAPTURE(p);
    const auto loss_at = [&](double delta) {
      linear_encoder probe;
      probe.w = w0;
      probe.w[p] += delta;
      probe.forward(x);
      return direct_loss(probe, ids, 0.1, nullptr, &norms);
    };
    const double numeric = (loss_at(h) - loss_at(-h)) / (2 * h);
    CHECK(analytic[p] == doctest::Approx(numeric).epsilon(1e-6).scale(1e-3));
  }
}

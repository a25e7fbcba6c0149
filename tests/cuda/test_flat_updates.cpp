// Compiled by the host compiler with THRUST_DEVICE_SYSTEM=CPP: the optimizer updates of the CUDA
// backend (cuda/flat_updates.cuh) run on the host. Expected values: torch.optim.Adam / AdamW /
// SGD in float64 on the same three steps (torch 1.13, the numbers printed by the snippet in
// docs/backends.md), and closed forms for the fairseq Adam.
#include <ecgssl/cuda/flat_updates.cuh>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

static_assert(THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CPP);

namespace {

namespace fo = ecgssl::flat_ops;

const std::vector<double> p0{1.0, -2.0, 0.5};
const std::vector<std::vector<double>> grads{
    {0.5, -0.25, 2.0}, {-1.0, 0.75, 0.125}, {0.3, 0.2, -0.4}};

std::vector<double> run_adam(const fo::adam_settings& s, double lr) {
  std::vector<double> p = p0, m(3, 0.0), v(3, 0.0);
  for (std::size_t step = 0; step < grads.size(); ++step) {
    fo::adam_update(p.data(), grads[step].data(), m.data(), v.data(), p.size(), s, lr,
                    static_cast<std::int64_t>(step + 1));
  }
  return p;
}

std::vector<double> run_sgd(const fo::sgd_settings& s, double lr) {
  std::vector<double> p = p0, b(3, 0.0);
  for (std::size_t step = 0; step < grads.size(); ++step) {
    fo::sgd_update(p.data(), grads[step].data(), b.data(), p.size(), s, lr,
                   static_cast<std::int64_t>(step + 1));
  }
  return p;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-13));
}

}  // namespace

TEST_CASE("adam_update in the pytorch form matches torch.optim.Adam over three steps") {
  fo::adam_settings s{0.9, 0.98, 1e-6, 0.01, 1.0, fo::adam_form::pytorch};
  check_close(run_adam(s, 0.1), {0.9448000938302589, -1.9959852795933757, 0.2856880797714121});
}

TEST_CASE("adam_update in the adamw form matches torch.optim.AdamW over three steps") {
  fo::adam_settings s{0.9, 0.98, 1e-6, 0.01, 1.0, fo::adam_form::adamw};
  check_close(run_adam(s, 0.1), {0.9444518613869659, -1.996115556037596, 0.2848425091065747});
}

TEST_CASE("fairseq adam: first step in closed form") {
  // m = (1-b1) g, v = (1-b2) g^2, so p1 = p0 (1 - lr wd) - lr g sqrt(1-b2) / (sqrt(1-b2) |g| +
  // eps).
  const fo::adam_settings s{0.9, 0.98, 1e-6, 0.01, 1.0, fo::adam_form::fairseq};
  const double lr = 0.1;
  std::vector<double> p = p0, m(3, 0.0), v(3, 0.0);
  fo::adam_update(p.data(), grads[0].data(), m.data(), v.data(), 3, s, lr, 1);
  for (std::size_t i = 0; i < 3; ++i) {
    const double g = grads[0][i];
    const double r = std::sqrt(1.0 - 0.98);
    CHECK(p[i] == doctest::Approx(p0[i] * (1.0 - lr * 0.01) - lr * g * r / (r * std::abs(g) + 1e-6))
                      .epsilon(1e-14));
    CHECK(m[i] == doctest::Approx(0.1 * g).epsilon(1e-15));
    CHECK(v[i] == doctest::Approx(0.02 * g * g).epsilon(1e-15));
  }
}

TEST_CASE("fairseq and pytorch adam agree when eps and weight decay are zero") {
  // lr sqrt(c2)/c1 * m/sqrt(v) == lr/c1 * m/(sqrt(v)/sqrt(c2)): the forms differ only in eps/decay.
  fo::adam_settings a{0.9, 0.98, 0.0, 0.0, 1.0, fo::adam_form::fairseq};
  fo::adam_settings b = a;
  b.form = fo::adam_form::pytorch;
  check_close(run_adam(a, 0.05), run_adam(b, 0.05));
}

TEST_CASE("gradient_scale multiplies every gradient as it is read") {
  fo::adam_settings s{0.9, 0.98, 1e-6, 0.01, 0.5, fo::adam_form::pytorch};
  std::vector<double> p = p0, m(3, 0.0), v(3, 0.0), q = p0, m2(3, 0.0), v2(3, 0.0);
  std::vector<double> halved(3);
  for (std::size_t i = 0; i < 3; ++i) halved[i] = 0.5 * grads[0][i];
  fo::adam_update(p.data(), grads[0].data(), m.data(), v.data(), 3, s, 0.1, 1);
  s.gradient_scale = 1.0;
  fo::adam_update(q.data(), halved.data(), m2.data(), v2.data(), 3, s, 0.1, 1);
  check_close(p, q);
}

TEST_CASE("sgd_update matches torch.optim.SGD: momentum with dampening, Nesterov, plain") {
  check_close(run_sgd({0.9, 0.1, 0.01, false, 1.0}, 0.1),
              {1.0032741886899998, -2.06789318813, -0.029338922405000026});
  check_close(run_sgd({0.9, 0.0, 0.01, true, 1.0}, 0.1),
              {1.034168458191, -2.139191330807, -0.14758919622950004});
  check_close(run_sgd({0.0, 0.0, 0.01, false, 1.0}, 0.1),
              {1.017002949, -2.063980973, 0.3264137995});
}

namespace {

// Runs three steps of an optim/ policy's host apply() and of the flat update with settings_of()
// from the same policy object, on the same data; returns both parameter vectors.
template <class Policy, class Flat>
std::pair<std::vector<double>, std::vector<double>> host_and_flat(const Policy& policy, Flat flat,
                                                                  double lr) {
  std::vector<double> ph = p0, pf = p0;
  std::vector<std::vector<double>> sh(Policy::state_names.size(), std::vector<double>(3, 0.0));
  auto sf = sh;
  for (std::size_t step = 0; step < grads.size(); ++step) {
    std::vector<std::span<double>> spans;
    for (auto& s : sh) spans.emplace_back(s);
    policy.apply(std::span<double>(ph), std::span<const double>(grads[step]),
                 std::span<const std::span<double>>(spans), lr, static_cast<std::int64_t>(step + 1));
    flat(pf, grads[step], sf, fo::settings_of(policy), lr, static_cast<std::int64_t>(step + 1));
  }
  return {ph, pf};
}

auto flat_adam = [](std::vector<double>& p, const std::vector<double>& g, std::vector<std::vector<double>>& s,
                    const fo::adam_settings& settings, double lr, std::int64_t t) {
  fo::adam_update(p.data(), g.data(), s[0].data(), s[1].data(), p.size(), settings, lr, t);
};

}  // namespace

TEST_CASE("settings_of maps the optim policies so the flat updates equal their host apply") {
  SUBCASE("adam, fairseq variant, with decay and a gradient scale") {
    ecgssl::adam a;
    a.beta1 = 0.9;
    a.beta2 = 0.98;
    a.eps = 1e-6;
    a.weight_decay = 0.01;
    a.gradient_scale = 0.5;
    const auto [h, f] = host_and_flat(a, flat_adam, 0.1);
    check_close(f, h);
  }
  SUBCASE("adam, pytorch variant") {
    ecgssl::adam a;
    a.variant = ecgssl::adam_variant::pytorch;
    a.weight_decay = 0.02;
    const auto [h, f] = host_and_flat(a, flat_adam, 0.05);
    check_close(f, h);
  }
  SUBCASE("adamw") {
    ecgssl::adamw a;
    a.gradient_scale = 2.0;
    const auto [h, f] = host_and_flat(a, flat_adam, 0.1);
    check_close(f, h);
  }
  SUBCASE("sgd with Nesterov momentum and decay") {
    ecgssl::sgd s;
    s.momentum = 0.9;
    s.weight_decay = 0.01;
    s.nesterov = true;
    const auto [h, f] = host_and_flat(
        s,
        [](std::vector<double>& p, const std::vector<double>& g, std::vector<std::vector<double>>& st,
           const fo::sgd_settings& settings, double lr, std::int64_t t) {
          fo::sgd_update(p.data(), g.data(), st[0].data(), p.size(), settings, lr, t);
        },
        0.1);
    check_close(f, h);
  }
}

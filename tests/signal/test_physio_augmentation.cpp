#include <ecgssl/signal/physio_augmentation.hpp>

#include "physio_support.hpp"

using namespace ecgssl::signal;

static_assert(ecgssl::signal_transform<physio4>);
static_assert(ecgssl::signal_transform<physio3>);

TEST_CASE("Physio(4) equals its four stages applied in order on their compose sub-streams") {
  const auto p4 = make_physio4();
  const auto x = physio_test::run(p4, 9, 21);
  // Rebuild by hand: stage k sees random_stream(seed, stream_id({stream, k})).
  auto y = physio_test::zeros();
  ecgssl::signal_context ctx;
  const auto stage = [&](std::uint64_t k) { ctx.rng = ecgssl::random_stream(9, ecgssl::stream_id({21, k})); };
  stage(0);
  powerline_noise().apply(y, ctx);
  stage(1);
  emg_noise().apply(y, ctx);
  stage(2);
  baseline_wander().apply(y, ctx);
  stage(3);
  baseline_shift().apply(y, ctx);
  CHECK(x == y);
  physio_test::check_limb_leads_derived(x);
  // Physio(3) has no step: without baseline shift, V1 moves by less than 1 between samples.
  const auto z = physio_test::run(make_physio3(), 9, 21);
  double max_step = 0;
  for (std::size_t t = 1; t < 2500; ++t) max_step = std::max(max_step, std::abs(double(z(6, t)) - z(6, t - 1)));
  CHECK(max_step < 0.9);
}

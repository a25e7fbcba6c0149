#include <ecgssl/io/numpy_random_state.hpp>

#include <doctest/doctest.h>

using ecgssl::io::numpy_random_state;

// Expected values printed by numpy 2.4.6:
//   np.random.seed(42); [np.random.randint(0, L - 2500) for L in [5000, 5000, 5001, 7000, 2502]]
//   st = np.random.RandomState(42); [st.randint(0, 100000) for _ in range(3)]

TEST_CASE("numpy legacy randint after seed(42) matches numpy") {
  numpy_random_state rng(42);
  CHECK(rng.randint(0, 100000) == 15795);
  CHECK(rng.randint(0, 100000) == 860);
  CHECK(rng.randint(0, 100000) == 76820);
}

TEST_CASE("PTB-XL crop starts follow np.random.seed(42) and randint(0, L - 2500)") {
  const auto starts = numpy_random_state::crop_starts({5000, 5000, 5001, 7000, 2502});
  CHECK(starts == std::vector<std::int64_t>{860, 1294, 1130, 3772, 0});
  CHECK_THROWS_AS((void)numpy_random_state::crop_starts({5000, 2500}), ecgssl::data_error);
  numpy_random_state rng(1);
  CHECK(rng.randint(7, 8) == 7);  // one value: no draw
  CHECK_THROWS_AS((void)rng.randint(3, 3), ecgssl::config_error);
}

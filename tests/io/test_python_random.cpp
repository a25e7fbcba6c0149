#include <ecgssl/io/python_random.hpp>

#include <doctest/doctest.h>

#include <numeric>

using ecgssl::io::python_random;

// Expected values printed by CPython 3.11.7:
//   r = random.Random(42); [r.random() for _ in range(5)]; [r.getrandbits(32) ...]; r.shuffle(...)

TEST_CASE("python_random(42).random() matches CPython") {
  python_random r(42);
  CHECK(r.random() == 0.6394267984578837);
  CHECK(r.random() == 0.025010755222666936);
  CHECK(r.random() == 0.27502931836911926);
  CHECK(r.random() == 0.22321073814882275);
  CHECK(r.random() == 0.7364712141640124);
}

TEST_CASE("getrandbits matches CPython for small and multi-word seeds") {
  python_random r(42);
  CHECK(r.getrandbits(32) == 2746317213u);
  CHECK(r.getrandbits(32) == 478163327u);
  CHECK(r.getrandbits(32) == 107420369u);
  CHECK(python_random((1ull << 40) + 5).getrandbits(32) == 2166296868u);
  CHECK(python_random(0).getrandbits(32) == 3626764237u);
}

TEST_CASE("shuffle matches CPython's random.shuffle") {
  python_random r(42);
  std::vector<int> x(10);
  std::iota(x.begin(), x.end(), 0);
  r.shuffle(x);
  CHECK(x == std::vector<int>{7, 3, 2, 8, 5, 6, 9, 4, 0, 1});

  python_random big(42);
  std::vector<int> y(1000);
  std::iota(y.begin(), y.end(), 0);
  big.shuffle(y);
  CHECK(std::vector<int>(y.begin(), y.begin() + 10) == std::vector<int>{776, 507, 895, 922, 33, 483, 85, 750, 354, 523});
  CHECK(std::vector<int>(y.end() - 5, y.end()) == std::vector<int>{281, 759, 25, 114, 654});

  // One generator, two shuffles in a row (the reference reuses its Random across subsets).
  python_random seq(42);
  std::vector<int> a(7), b(20);
  std::iota(a.begin(), a.end(), 0);
  std::iota(b.begin(), b.end(), 0);
  seq.shuffle(a);
  seq.shuffle(b);
  CHECK(a == std::vector<int>{1, 3, 4, 2, 6, 0, 5});
  CHECK(b == std::vector<int>{16, 12, 9, 7, 19, 6, 5, 10, 15, 8, 11, 18, 1, 14, 0, 13, 2, 17, 3, 4});
}

TEST_CASE("randbelow and getrandbits reject impossible ranges") {
  python_random r(1);
  CHECK_THROWS_AS(r.randbelow(0), ecgssl::config_error);
  CHECK_THROWS_AS(r.getrandbits(33), ecgssl::config_error);
  for (int i = 0; i < 100; ++i) CHECK(r.randbelow(3) < 3u);
}

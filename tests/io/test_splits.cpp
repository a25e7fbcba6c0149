#include <ecgssl/io/splits.hpp>

#include <doctest/doctest.h>

#include <algorithm>

using namespace ecgssl::io;

// Expected values printed by CPython 3.11.7 running the reference's code on the same lists.

TEST_CASE("segment-level split reproduces random.Random(42).shuffle and the 8:1:1 cut") {
  // Python: x = [f'A{i:04d}_{s}' for i in 1..5 for s in 0..1]; Random(42).shuffle(x);
  // train = x[:8] = A0004_1 A0002_1 A0002_0 A0005_0 A0003_1 A0004_0 A0005_1 A0003_0,
  // valid = [A0001_0], test = [A0001_1]  (item index = 2 * (record - 1) + segment).
  python_random rng(42);
  const auto split = reference_segment_split(10, 0.1, rng);
  CHECK(split.train == std::vector<std::size_t>{7, 3, 2, 8, 5, 6, 9, 4});
  CHECK(split.valid == std::vector<std::size_t>{0});
  CHECK(split.test == std::vector<std::size_t>{1});
}

TEST_CASE("the paper's CPSC + Georgia segment counts give 32640 / 4079 / 4079") {
  python_random rng(42);
  const auto split = reference_segment_split(40798, 0.1, rng);
  CHECK(split.train.size() == 32640);
  CHECK(split.valid.size() == 4079);
  CHECK(split.test.size() == 4079);
  std::vector<std::size_t> all = split.train;
  all.insert(all.end(), split.valid.begin(), split.valid.end());
  all.insert(all.end(), split.test.begin(), split.test.end());
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i < all.size(); ++i) REQUIRE(all[i] == i);
}

TEST_CASE("group split keeps every record in one part") {
  // 12 records with 2 segments each. Python: g = list(range(12)); Random(42).shuffle(g)
  // -> [7, 5, 2, 8, 9, 6, 11, 3, 4, 0, 1, 10]: train = first 10, valid = [1], test = [10].
  std::vector<std::string> groups;
  for (int r = 0; r < 12; ++r) {
    groups.push_back("r" + std::to_string(r));
    groups.push_back("r" + std::to_string(r));
  }
  python_random rng(42);
  const auto split = group_split(groups, 0.1, rng);
  CHECK(split.valid == std::vector<std::size_t>{2, 3});
  CHECK(split.test == std::vector<std::size_t>{20, 21});
  CHECK(split.train.size() == 20);
  CHECK_THROWS_AS((void)group_split(groups, 0.6, rng), ecgssl::config_error);
}

TEST_CASE("identification split follows manifest_identification.py") {
  // Python (valid_percent 0.5): draws p1 .639, p2 .025, p3 .275, p4 .223, p5 .736, p6 .677, p7 .892
  // -> train [(0,0),(1,0),(7,1),(8,1),(9,2),(10,2),(11,3),(12,3)], gallery [3], probe [4];
  // p2 and p4 have one item and are dropped.
  const std::vector<std::string> ids{"p1", "p1", "p2", "p3", "p3", "p3", "p4", "p5", "p5", "p6", "p6", "p7", "p7"};
  python_random rng(42);
  const auto split = make_identification_split(ids, 0.5, rng);
  CHECK(split.train == std::vector<std::size_t>{0, 1, 7, 8, 9, 10, 11, 12});
  CHECK(split.train_label == std::vector<std::size_t>{0, 0, 1, 1, 2, 2, 3, 3});
  CHECK(split.train_identities == 4);
  CHECK(split.gallery == std::vector<std::size_t>{3});
  CHECK(split.probe == std::vector<std::size_t>{4});

  python_random all(42);
  const auto ptbxl = make_identification_split(ids, 1.0, all);  // PTB-XL: every patient with two sessions
  CHECK(ptbxl.gallery == std::vector<std::size_t>{0, 3, 7, 9, 11});
  CHECK(ptbxl.probe == std::vector<std::size_t>{1, 4, 8, 10, 12});
  CHECK(ptbxl.train.empty());
}

#include <ecgssl/io/cmsc_pairs.hpp>

#include <doctest/doctest.h>

using namespace ecgssl::io;

TEST_CASE("consecutive sorted segments of a record form CMSC pairs, odd leftovers dropped") {
  // A0001: 5 segments listed out of order -> (0,1), (2,3), 4 dropped; A0002: 1 segment -> none;
  // A0003 lost segment 1 to the test split -> (0,2) (sorted, not adjacent), 3 dropped.
  const std::vector<segment_ref> segments{{"A0001", 3}, {"A0001", 0}, {"A0002", 0}, {"A0003", 2}, {"A0001", 4},
                                          {"A0001", 1}, {"A0003", 0}, {"A0001", 2}, {"A0003", 3}};
  const auto pairs = make_cmsc_pairs(segments);
  const std::vector<cmsc_pair> expected{{"A0001", 0, 1}, {"A0001", 2, 3}, {"A0003", 0, 2}};
  CHECK(pairs == expected);
  CHECK(make_cmsc_pairs(std::vector<segment_ref>{}).empty());
  const std::vector<segment_ref> twice{{"A", 0}, {"A", 1}, {"A", 1}, {"A", 2}};
  CHECK_THROWS_AS((void)make_cmsc_pairs(twice), ecgssl::data_error);
}

TEST_CASE("a 10 s record at 500 Hz gives one pair of 5 s segments") {
  const std::vector<std::string> records{"HR00001", "S0001"};
  const std::vector<std::size_t> counts{5000 / 2500, 57500 / 2500};  // 10 s and 115 s
  const auto pairs = make_cmsc_pairs(all_segments(records, counts));
  REQUIRE(pairs.size() == 1 + 11);
  CHECK(pairs[0] == cmsc_pair{"HR00001", 0, 1});
  CHECK(pairs.back() == cmsc_pair{"S0001", 20, 21});
}

TEST_CASE("segment file names split at the last underscore") {
  CHECK(parse_segment_name("A0001_3.mat") == segment_ref{"A0001", 3});
  CHECK(parse_segment_name("ptbxl/HR_00001_12") == segment_ref{"ptbxl/HR_00001", 12});
  CHECK_THROWS_AS((void)parse_segment_name("A0001.mat"), ecgssl::data_error);
  CHECK_THROWS_AS((void)parse_segment_name("A0001_x.mat"), ecgssl::data_error);
}

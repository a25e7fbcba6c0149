// segment_set: real records cut into 12-slot 5 s segments, subsets and gathered batches.
#include <doctest/doctest.h>

#include <ecgssl/io/wfdb_record.hpp>
#include <ecgssl/data/segment_set.hpp>

#include "pipeline/real_segments.hpp"

TEST_CASE("segment_set: segments, labels and identities of real records") {
  const auto set = ecgssl::test_support::cinc_segments({"A0001", "A0003"});
  // A0001: 7500 samples -> 3 segments; A0003 length from its header.
  const auto h = ecgssl::io::read_wfdb_header((ecgssl::test_support::cinc_dir() / "A0003.hea").string());
  REQUIRE(set.size() == 3 + static_cast<std::size_t>(h.n_samples / 2500));
  CHECK(set.record_ids[0] == "A0001");
  CHECK(set.identities[0] == 0);
  CHECK(set.identities[3] == 1);
  CHECK(set.labels(0, 5) == 1.0f);   // 59118001 RBBB -> CRBBB|RBBB
  CHECK(set.labels(3, 0) == 1.0f);   // 164889003 AF
  const auto r = ecgssl::io::read_record((ecgssl::test_support::cinc_dir() / "A0001.hea").string());
  // second segment, lead V2 (slot 7), sample 10 = record sample 2510
  CHECK(set.signals(1, 7, 10) == doctest::Approx(r.physical(7, 2510)));

  const std::vector<std::size_t> pick{3, 1};
  const auto sub = set.subset(pick);
  CHECK(sub.record_ids == std::vector<std::string>{"A0003", "A0001"});
  ecgssl::tensor<double, 3> batch;
  set.gather(std::span<const std::size_t>(pick), ecgssl::io::lead_set::parse("I,V2"), batch);
  CHECK(batch.shape()[0] == 2);
  CHECK(batch(1, 7, 10) == doctest::Approx(r.physical(7, 2510)));
  CHECK(batch(1, 1, 10) == 0.0);  // lead II not in the set
}

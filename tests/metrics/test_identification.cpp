#include <ecgssl/metrics/identification.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using ecgssl::tensor;
using ecgssl::metrics::identification_top1;

TEST_CASE("identification top-1 retrieves the gallery item of largest cosine") {
  const tensor<double, 2> gallery = {{1, 0}, {0, 1}, {1, 1}};
  const std::vector<std::int64_t> gallery_ids{10, 20, 30};
  // cosines: probe 0 -> row 0 (0.9988 vs 0.7415); probe 1 -> row 1; probe 2 -> row 2 (0.9986 vs 0.743).
  const tensor<double, 2> probes = {{2, 0.1}, {0.1, 3}, {1, 0.9}};
  const std::vector<std::int64_t> probe_ids{10, 30, 30};
  const auto result = identification_top1<double>(gallery, gallery_ids, probes, probe_ids);
  CHECK(result.best_match == std::vector<std::size_t>{0, 1, 2});
  CHECK(result.top1 == doctest::Approx(2.0 / 3.0));

  // Cosine ignores scale: a longer gallery vector does not win.
  const tensor<double, 2> scaled = {{5, 0}, {0, 50}, {100, 100}};
  CHECK(identification_top1<double>(scaled, gallery_ids, probes, probe_ids).best_match ==
        std::vector<std::size_t>{0, 1, 2});

  // Ties go to the first gallery row, like argmax.
  const tensor<double, 2> duplicated = {{1, 0}, {2, 0}};
  const std::vector<std::int64_t> dup_ids{1, 2};
  const tensor<double, 2> probe = {{3, 0}};
  const std::vector<std::int64_t> probe_id{2};
  const auto tie = identification_top1<double>(duplicated, dup_ids, probe, probe_id);
  CHECK(tie.best_match[0] == 0);
  CHECK(tie.top1 == 0.0);
}

TEST_CASE("identification rejects zero embeddings and mismatched sizes") {
  const tensor<float, 2> gallery = {{1, 0}, {0, 0}};
  const std::vector<std::int64_t> ids{1, 2};
  const tensor<float, 2> probes = {{1, 0}};
  const std::vector<std::int64_t> probe_ids{1};
  CHECK_THROWS_AS((void)identification_top1<float>(gallery, ids, probes, probe_ids), ecgssl::data_error);
  const tensor<float, 2> good = {{1, 0}, {0, 1}};
  const tensor<float, 2> wide = {{1, 0, 0}};
  CHECK_THROWS_AS((void)identification_top1<float>(good, ids, wide, probe_ids), ecgssl::shape_error);
  const std::vector<std::int64_t> one_id{1};
  CHECK_THROWS_AS((void)identification_top1<float>(good, one_id, probes, probe_ids), ecgssl::shape_error);
}

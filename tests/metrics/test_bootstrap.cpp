// Bootstrap intervals (metrics/bootstrap.hpp) against tools/make_bootstrap_fixture.py, which
// draws the same resamples with CPython's random.Random and computes the AUROC by direct pair
// counting, and the seed summary against hand-computed Student-t intervals.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <span>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ecgssl/metrics/auc_scores.hpp"
#include "ecgssl/metrics/bootstrap.hpp"

using namespace ecgssl;

TEST_CASE("bootstrap: the intervals of CPython's resamples, for a mean and a macro AUROC") {
  std::ifstream in(std::filesystem::path(ECGSSL_TEST_DATA_DIR) / "metrics" / "bootstrap.json");
  const auto j = nlohmann::json::parse(in);
  const auto n = j.at("n").get<std::size_t>();
  const auto classes = j.at("classes").get<std::size_t>();
  const auto labels = j.at("labels").get<std::vector<std::vector<int>>>();
  const auto scores = j.at("scores").get<std::vector<std::vector<double>>>();
  const auto resamples = j.at("resamples").get<std::size_t>();
  const auto seed = j.at("seed").get<std::uint64_t>();

  const auto indices = metrics::bootstrap_indices(n, 1, seed);
  const auto first = j.at("first_indices").get<std::vector<std::uint32_t>>();
  CHECK(std::equal(first.begin(), first.end(), indices.begin()));

  const auto mean0 = [&](std::span<const std::uint32_t> idx) {
    double sum = 0;
    for (const auto i : idx) sum += scores[i][0];
    return sum / static_cast<double>(idx.size());
  };
  const auto macro_auroc = [&](std::span<const std::uint32_t> idx) {
    double sum = 0;
    int defined = 0;
    for (std::size_t k = 0; k < classes; ++k) {
      std::vector<std::pair<double, bool>> items;
      for (const auto i : idx) items.emplace_back(scores[i][k], labels[i][k] != 0);
      const double a = metrics::detail::binary_auc(items).auroc;
      if (!std::isnan(a)) {
        sum += a;
        ++defined;
      }
    }
    return defined > 0 ? sum / defined : std::nan("");
  };
  for (const auto& named : {std::pair{"mean0", metrics::bootstrap(n, mean0, resamples, seed)},
                             std::pair{"macro_auroc", metrics::bootstrap(n, macro_auroc, resamples, seed)}}) {
    const char* name = named.first;
    const auto& result = named.second;
    CAPTURE(name);
    const auto& e = j.at(name);
    CHECK(result.estimate == doctest::Approx(e.at("estimate").get<double>()).epsilon(1e-12));
    CHECK(result.low == doctest::Approx(e.at("low").get<double>()).epsilon(1e-12));
    CHECK(result.high == doctest::Approx(e.at("high").get<double>()).epsilon(1e-12));
    CHECK(result.undefined == e.at("undefined").get<std::size_t>());
    CHECK(result.resamples == resamples);
    CHECK(result.low < result.estimate);
    CHECK(result.estimate < result.high);
  }
}

TEST_CASE("bootstrap: undefined resamples are left out and counted; too many make the interval NaN") {
  // the metric is undefined whenever record 0 is absent from the resample
  const auto needs_record0 = [](std::span<const std::uint32_t> idx) {
    for (const auto i : idx) {
      if (i == 0) return 1.0;
    }
    return std::nan("");
  };
  const auto few = metrics::bootstrap(2, needs_record0, 400, 3);  // P(absent) = 1/4
  CHECK(few.undefined > 50);
  CHECK(few.undefined < 150);
  CHECK(few.low == 1.0);
  const auto most = metrics::bootstrap(50, needs_record0, 200, 3);  // P(absent) = 0.36... < 1/2
  CHECK_FALSE(std::isnan(most.low));
  const auto always = metrics::bootstrap(5, [](std::span<const std::uint32_t>) { return std::nan(""); }, 10, 1);
  CHECK(always.undefined == 10);
  CHECK(std::isnan(always.low));
  CHECK_THROWS_AS(metrics::bootstrap(5, needs_record0, 1, 1), config_error);
  CHECK_THROWS_AS(metrics::bootstrap(5, needs_record0, 10, 1, 1.5), config_error);
  CHECK_THROWS_AS(metrics::bootstrap_indices(0, 10, 1), config_error);
}

TEST_CASE("summarize_runs: mean and Student-t 95% interval over seeds") {
  const std::vector<double> three{0.80, 0.82, 0.78};
  const auto s = metrics::summarize_runs(three);
  // mean 0.8, sd 0.02, t(0.975, 2) = 4.303: 0.8 -/+ 4.303 x 0.02 / sqrt(3), computed with Python
  CHECK(s.mean == doctest::Approx(0.8).epsilon(1e-14));
  CHECK(s.sd == doctest::Approx(0.02).epsilon(1e-12));
  CHECK(s.low == doctest::Approx(0.750313235833541).epsilon(1e-12));
  CHECK(s.high == doctest::Approx(0.8496867641664593).epsilon(1e-12));
  CHECK(s.runs == 3);
  const std::vector<double> one{0.5};
  CHECK(std::isnan(metrics::summarize_runs(one).low));
  CHECK(metrics::summarize_runs(one).mean == 0.5);
}

TEST_CASE("bootstrap_each: several statistics from the same resamples equal one bootstrap each") {
  std::ifstream in(std::filesystem::path(ECGSSL_TEST_DATA_DIR) / "metrics" / "bootstrap.json");
  const auto j = nlohmann::json::parse(in);
  const auto scores = j.at("scores").get<std::vector<std::vector<double>>>();
  const auto n = scores.size();
  const auto column_mean = [&](std::span<const std::uint32_t> idx, std::size_t k) {
    double sum = 0;
    for (const auto i : idx) sum += scores[i][k];
    return sum / static_cast<double>(idx.size());
  };
  const auto each = metrics::bootstrap_each(
      n, [&](std::span<const std::uint32_t> idx) { return std::vector<double>{column_mean(idx, 0), column_mean(idx, 1)}; }, 300, 99);
  REQUIRE(each.size() == 2);
  for (std::size_t k = 0; k < 2; ++k) {
    const auto one = metrics::bootstrap(n, [&](std::span<const std::uint32_t> idx) { return column_mean(idx, k); }, 300, 99);
    CHECK(each[k].estimate == one.estimate);
    CHECK(each[k].low == one.low);
    CHECK(each[k].high == one.high);
  }
  CHECK(each[0].estimate == doctest::Approx(j.at("mean0").at("estimate").get<double>()));
}

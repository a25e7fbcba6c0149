#include <ecgssl/pipeline/logs/progress_bar.hpp>

#include <doctest/doctest.h>

#include <sstream>

namespace {
ecgssl::pipeline::step_record record(std::int64_t step, std::int64_t total) {
  ecgssl::pipeline::step_record r;
  r.step = step;
  r.total_steps = total;
  r.loss = 3.25;
  r.learning_rate = 5e-5;
  r.segments_per_second = 41.3;
  r.elapsed_seconds = 2.0 * static_cast<double>(step);  // 2 s per update
  return r;
}
}  // namespace

TEST_CASE("the bar shows progress, loss, rate, throughput and ETA") {
  std::ostringstream out;
  const ecgssl::pipeline::progress_bar bar(out, "pretrain", false, 10);
  // 25 of 100 done at 2 s each: 75 remaining -> 150 s.
  CHECK(bar.render(record(25, 100)) ==
        "pretrain [==>       ] 25/100  25% loss 3.2500 lr 5.00e-05 41.3 seg/s ETA 2m30s");
  CHECK(bar.render(record(100, 100)) ==
        "pretrain [==========] 100/100 100% loss 3.2500 lr 5.00e-05 41.3 seg/s ETA 0s");
}

TEST_CASE("in log mode a line is printed at each tenth of the run") {
  std::ostringstream out;
  ecgssl::pipeline::progress_bar bar(out, "x", false, 4);
  for (std::int64_t s = 1; s <= 100; ++s) bar.on_step(record(s, 100));
  bar.on_end();
  int lines = 0;
  for (char c : out.str()) lines += c == '\n';
  CHECK(lines == 11);  // step 1, then 10, 20, ..., 100
  CHECK(out.str().find('\r') == std::string::npos);
}

TEST_CASE("on a terminal the bar redraws one line") {
  std::ostringstream out;
  ecgssl::pipeline::progress_bar bar(out, "x", true, 4);
  for (std::int64_t s = 1; s <= 5; ++s) bar.on_step(record(s, 5));
  bar.on_end();
  int returns = 0, newlines = 0;
  for (char c : out.str()) {
    returns += c == '\r';
    newlines += c == '\n';
  }
  CHECK(returns == 5);
  CHECK(newlines == 1);
}

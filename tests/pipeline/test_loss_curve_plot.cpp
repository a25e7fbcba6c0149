#include <ecgssl/pipeline/logs/loss_curve_plot.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

TEST_CASE("nice ticks are 1-2-5 steps inside the range") {
  const auto ticks = ecgssl::pipeline::nice_ticks(0.13, 0.97);
  REQUIRE(ticks.size() == 4);  // range 0.84 / 5 = 0.168 -> step 0.2: 0.2, 0.4, 0.6, 0.8
  CHECK(ticks.front() == doctest::Approx(0.2));
  CHECK(ticks.back() == doctest::Approx(0.8));
  const auto big = ecgssl::pipeline::nice_ticks(0, 1000);
  CHECK(big == std::vector<double>{0, 200, 400, 600, 800, 1000});
}

TEST_CASE("the SVG maps the first and last points to the plot corners") {
  // x from 1 to 3, loss from 4 down to 2: first point top-left, last bottom-right of the padded box.
  const std::string svg = ecgssl::pipeline::render_loss_curve_svg({{1, 4}, {2, 3}, {3, 2}}, "W2V <test>");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("W2V &lt;test>") != std::string::npos);
  const auto at = svg.find("points=\"");
  REQUIRE(at != std::string::npos);
  std::istringstream points(svg.substr(at + 8, svg.find('"', at + 8) - at - 8));
  std::string first, second, third;
  points >> first >> second >> third;
  // Plot box: x 70..620, y 40..350; y range padded by 5% of 2 = 0.1 on each side -> 1.9..4.1.
  CHECK(first == "70.00,54.09");    // y = 40 + (4.1-4)/2.2*310
  CHECK(third == "620.00,335.91");  // y = 40 + (4.1-2)/2.2*310
  CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
}

TEST_CASE("the callback writes the file at the end and skips non-finite losses") {
  const auto path = (std::filesystem::temp_directory_path() / "ecgssl_loss.svg").string();
  ecgssl::pipeline::loss_curve_plot plot(path, "loss");
  for (int s = 1; s <= 4; ++s) {
    ecgssl::pipeline::step_record r;
    r.step = s;
    r.loss = s == 3 ? std::nan("") : 1.0 / s;
    plot.on_step(r);
  }
  plot.on_end();
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str().find("nan") == std::string::npos);
  CHECK(plot.points().size() == 4);
  std::filesystem::remove(path);
  ecgssl::pipeline::loss_curve_plot bad("/nonexistent-dir/x.svg", "");
  CHECK_THROWS_AS(bad.write(), ecgssl::io_error);
}

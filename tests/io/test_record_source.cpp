// Tests of include/ecgssl/data/record_source.hpp (in the io program: there is no data test area).
#include <ecgssl/data/paired_source.hpp>
#include <ecgssl/data/record_source.hpp>

#include <doctest/doctest.h>

using namespace ecgssl;
using data::record_source;

static_assert(data::segment_source<record_source>);

namespace {
// Sample t of lead l of record r = r * 1000 + l * 10 + t / 2500 (so the segment shows).
tensor<float, 2> fake_reader(const io::manifest_entry& e) {
  const std::size_t leads = e.leads.size();
  const auto samples = static_cast<std::size_t>(e.samples);
  const float r = std::stof(e.record_id.substr(1));
  tensor<float, 2> x = tensor<float, 2>::from_shape({leads, samples});
  for (std::size_t l = 0; l < leads; ++l)
    for (std::size_t t = 0; t < samples; ++t) x(l, t) = r * 1000 + static_cast<float>(l * 10 + t / 2500);
  return x;
}

io::manifest make_manifest() {
  io::manifest m;
  io::manifest_entry a;  // 12 leads in a shuffled order, 12 s -> 2 segments
  a.record_id = "R1";
  a.path = "R1.hea";
  a.samples = 6000;
  a.sampling_frequency = 500;
  a.leads = {"V1", "I", "II", "III", "avr", "AVL", "aVF", "V2", "V3", "V4", "V5", "V6"};
  a.labels = {164889003, 59118001};
  io::manifest_entry b;  // skipped
  b.record_id = "R2";
  b.samples = 5000;
  b.leads = {"I"};
  b.skip_reason = "sampling frequency 1000 Hz (required 500 Hz)";
  io::manifest_entry c;  // two leads, one non-standard, 5 s -> 1 segment
  c.record_id = "R3";
  c.path = "R3.hea";
  c.samples = 2500;
  c.sampling_frequency = 500;
  c.leads = {"MLII", "V5"};
  m.entries = {a, b, c};
  return m;
}
}  // namespace

TEST_CASE("record segments land in the canonical slots with labels and record identity") {
  const record_source source(make_manifest(), fake_reader);
  REQUIRE(source.size() == 3);
  tensor<float, 2> x;
  data::segment_meta meta;
  source.read(1, 0, x, meta);  // R1, segment 1
  CHECK(meta.record_id == "R1");
  CHECK(meta.segment == 1);
  CHECK(meta.identity == 0);
  CHECK(meta.labels[0] == 1.0f);
  CHECK(meta.labels[5] == 1.0f);
  REQUIRE(x.shape()[0] == 12);
  REQUIRE(x.shape()[1] == 2500);
  CHECK(x(0, 0) == 1000 + 10 + 1);  // I was row 1
  CHECK(x(6, 9) == 1000 + 0 + 1);   // V1 was row 0
  CHECK(x(3, 0) == 1000 + 40 + 1);  // "avr" -> aVR, row 4
  source.read(2, 0, x, meta);  // R3: only V5 has a slot
  CHECK(meta.identity == 1);
  for (std::size_t l = 0; l < 12; ++l) CHECK(x(l, 100) == (l == 10 ? 3000.0f + 10 : 0.0f));
}

TEST_CASE("record_source reports readers that disagree with the manifest") {
  auto m = make_manifest();
  const record_source short_reader(m, [](const io::manifest_entry& e) {
    return tensor<float, 2>::from_shape({e.leads.size(), 100});
  });
  tensor<float, 2> x;
  data::segment_meta meta;
  CHECK_THROWS_AS(short_reader.read(0, 0, x, meta), shape_error);
  m.entries[0].leads[1] = "V1";  // V1 twice
  const record_source twice(m, fake_reader);
  CHECK_THROWS_AS(twice.read(0, 0, x, meta), data_error);
  CHECK_THROWS_AS(record_source(m, fake_reader, 2500, std::vector<std::size_t>{7}), config_error);
  const record_source only_third(make_manifest(), fake_reader, 2500, std::vector<std::size_t>{2});
  CHECK(only_third.size() == 1);
}

TEST_CASE("CMSC pairs over manifest records") {
  const auto source = std::make_shared<const record_source>(make_manifest(), fake_reader);
  const auto pairs = data::paired_source<record_source>::from_records(source);
  REQUIRE(pairs.size() == 1);  // R1 has segments 0 and 1; R3 has one segment
  CHECK(pairs.pair(0) == std::pair<std::size_t, std::size_t>{0, 1});
}

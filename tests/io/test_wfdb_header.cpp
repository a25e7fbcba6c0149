// Tests of the WFDB header parser against hand-read header lines (WFDB header(5)).
#include <doctest/doctest.h>

#include <ecgssl/io/wfdb_header.hpp>

#include <string>

using ecgssl::io::parse_wfdb_header;
using ecgssl::io::read_wfdb_header;

namespace {
const std::string records = std::string(ECGSSL_TEST_DATA_DIR) + "/records";

// Returns the message of the ecgssl error `f` throws (fails the test if none is thrown).
template <class Error, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected an exception");
  return {};
}
}  // namespace

TEST_CASE("record line with counter frequency, base time and date") {
  const auto h = parse_wfdb_header("rec 2 360/720(12.5) 650000 10:11:12.5 01/02/2003\n"
                                   "rec.dat 16 200 16 0 0 0 0 a\nrec.dat 16 200 16 0 0 0 0 b\n");
  CHECK(h.record_name == "rec");
  CHECK(h.n_signals == 2);
  CHECK(h.fs == 360.0);
  CHECK(h.counter_frequency == 720.0);
  CHECK(h.base_counter == 12.5);
  CHECK(h.n_samples == 650000);
  CHECK(h.n_samples_given);
  CHECK(h.base_time == "10:11:12.5");
  CHECK(h.base_date == "01/02/2003");
  CHECK_FALSE(h.is_multi_segment());
}

TEST_CASE("record line defaults and Challenge date order") {
  const auto h = parse_wfdb_header("x 0\n");
  CHECK(h.fs == 250.0);  // WFDB default
  CHECK(h.counter_frequency == 250.0);
  CHECK_FALSE(h.n_samples_given);
  const auto c = parse_wfdb_header("HR00001 0 500 5000 04-Jun-2020 15:11:55\n");
  CHECK(c.base_time == "15:11:55");
  CHECK(c.base_date == "04-Jun-2020");
  // The early 2020 Challenge release wrote the file name as record name.
  CHECK(parse_wfdb_header("E00015.mat 0 500 5000\n").record_name == "E00015.mat");
}

TEST_CASE("signal line with every field") {
  const auto h = parse_wfdb_header(
      "r 1 125\nr.dat 212x4:3+24 12.84(-1605)/mmHg 12 7 -943 -23651 0 ABP  radial line\n");
  const auto& s = h.signals.at(0);
  CHECK(s.file_name == "r.dat");
  CHECK(s.format == 212);
  CHECK(s.samples_per_frame == 4);
  CHECK(s.skew == 3);
  CHECK(s.byte_offset == 24);
  CHECK(s.adc_gain == 12.84);
  CHECK(s.baseline == -1605);
  CHECK(s.baseline_given);
  CHECK(s.units == "mmHg");
  CHECK(s.adc_resolution == 12);
  CHECK(s.adc_zero == 7);
  CHECK(s.initial_value == -943);
  CHECK(s.checksum == -23651);
  CHECK(s.block_size == 0);
  CHECK(s.description == "ABP  radial line");  // rest of the line, inner blanks kept
  CHECK(s.line == 2);
}

TEST_CASE("signal line defaults follow the WFDB spec") {
  const auto h = parse_wfdb_header("r 3\nr.dat 16\nr.dat 80 100 0 5\nr.dat 310 7.5e+02/mV 10 3\n");
  const auto& a = h.signals[0];
  CHECK(a.adc_gain == 200.0);  // gain absent: 200
  CHECK_FALSE(a.adc_gain_given);
  CHECK(a.units == "mV");
  CHECK(a.adc_resolution == 16);
  CHECK(a.adc_zero == 0);
  CHECK(a.baseline == 0);
  CHECK_FALSE(a.checksum.has_value());
  CHECK(a.description.empty());
  const auto& b = h.signals[1];
  CHECK(b.adc_resolution == 8);  // 0 means the format's width
  CHECK(b.adc_zero == 5);
  CHECK(b.baseline == 5);        // baseline absent: ADC zero
  CHECK(b.initial_value == 5);   // initial value absent: ADC zero
  const auto& c = h.signals[2];
  CHECK(c.adc_gain == 750.0);    // scientific notation as in a103l.hea
  CHECK(c.baseline == 3);
}

TEST_CASE("comment lines become key value pairs") {
  const auto h = parse_wfdb_header(
      "# unnecessary comment\nr 0 500 10\n#Age: 74\n# Sex: Male\n#Dx: 164889003,59118001\n"
      "#Rx: Unknown\n#Hx: Unknown\n#Sx: Unknown\n# <age>: 25  <sex>: M  <diagnoses>: (none)\n#Asystole\n");
  CHECK(h.comment_value("age") == "74");
  CHECK(h.comment_value("AGE") == "74");
  CHECK(h.comment_value("Sex") == "Male");
  CHECK(h.comment_value("dx") == "164889003,59118001");
  CHECK(h.comment_value("rx") == "Unknown");
  CHECK(h.comment_value("hx") == "Unknown");
  CHECK(h.comment_value("sx") == "Unknown");
  CHECK(h.comment_value("diagnoses") == "(none)");
  CHECK_FALSE(h.comment_value("weight").has_value());
  REQUIRE(h.comments.size() == 11);  // the MIT line gives three pairs
  CHECK(h.comments[0].value == "unnecessary comment");
  CHECK(h.comments[0].key.empty());
  CHECK(h.comments[8].key == "sex");
  CHECK(h.comments[8].value == "M");
  CHECK(h.comments[10].text == "Asystole");
}

TEST_CASE("multi-segment header with null segment") {
  const auto h = parse_wfdb_header("m/3 2 125 3000\nlayout 0\n~ 1000\nseg2 2000\n");
  CHECK(h.is_multi_segment());
  CHECK(h.n_segments == 3);
  REQUIRE(h.segments.size() == 3);
  CHECK(h.segments[1].is_null());
  CHECK(h.segments[2].name == "seg2");
  CHECK(h.segments[2].n_samples == 2000);
}

TEST_CASE("shipped headers parse") {
  const auto mimic = read_wfdb_header(records + "/wfdb/03700181.hea");
  CHECK(mimic.signals[0].samples_per_frame == 4);
  CHECK(mimic.signals[2].skew == 4);  // "212:4"
  CHECK(mimic.signals[1].baseline == -1605);
  const auto mit = read_wfdb_header(records + "/wfdb/100_3chan.hea");
  CHECK(mit.fs == 360.0);
  CHECK(mit.signals[0].baseline == 1024);
  const auto ludb = read_wfdb_header(records + "/ludb/3.hea");
  CHECK(ludb.signals[0].adc_gain == 751.0);
  CHECK(ludb.signals[0].baseline == -4);
  CHECK(ludb.signals[0].adc_resolution == 16);
  CHECK(ludb.comment_value("age") == "53");
  const auto chal = read_wfdb_header(records + "/challenge/HR00001.hea");
  CHECK(chal.signals[0].byte_offset == 24);
  CHECK(chal.signals[0].units == "mv");  // kept as written
  CHECK(chal.signals[11].description == "V6");
  const auto multi = read_wfdb_header(records + "/wfdb/041s/041s.hea");
  CHECK(multi.n_segments == 2);
  CHECK(multi.segments[0].name == "041s01");
}

TEST_CASE("malformed headers throw io_error naming line and field") {
  using ecgssl::io_error;
  auto msg = message_of<io_error>([] { (void)parse_wfdb_header("r 1 500 10\nr.dat 999 200\n", "bad.hea"); });
  CHECK(msg.find("bad.hea:2") != std::string::npos);
  CHECK(msg.find("'format'") != std::string::npos);
  CHECK(msg.find("212") != std::string::npos);  // lists the supported formats
  msg = message_of<io_error>([] { (void)parse_wfdb_header("r 2 500 10\nr.dat 16\n", "few.hea"); });
  CHECK(msg.find("declares 2 signals but the header has 1") != std::string::npos);
  msg = message_of<io_error>([] { (void)parse_wfdb_header("r 1 500 10\nr.dat 16 20x/mV\n", "g.hea"); });
  CHECK(msg.find("'adc_gain'") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)parse_wfdb_header("r 1 abc\n"); }).find("sampling frequency") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)parse_wfdb_header("r 1 -5\n"); }).find("positive") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)parse_wfdb_header("r x\n"); }).find("number of signals") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)parse_wfdb_header("# only comments\n"); }).find("record line") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)parse_wfdb_header("r 1 500 10\nr.dat 16x0\n"); }).find("samples per frame") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)parse_wfdb_header("r 1 500 10\nr.dat 16+q\n"); }).find("byte offset") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)parse_wfdb_header("r 1 500 10\nr.dat 16 200(3/mV\n"); }).find("baseline") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)parse_wfdb_header("r 1 500 99999999999999999999\n"); }).find("number of samples") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)parse_wfdb_header("m/2 1 500 10\ns1 5\n"); }).find("segment") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)parse_wfdb_header(std::string("r 1\0 5\n", 7)); }).find("NUL") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)parse_wfdb_header("r 1 500 10\nr.dat 508 200\n"); }).find("FLAC") != std::string::npos);
  CHECK(message_of<io_error>([] { (void)read_wfdb_header("/nonexistent/x.hea"); }).find("/nonexistent/x.hea") != std::string::npos);
}

TEST_CASE("zero gain is a data_error unless the WFDB default is asked for") {
  const std::string text = "r 1 500 10\nr.dat 16 0/mV 16 0\n";
  const auto msg = message_of<ecgssl::data_error>([&] { (void)parse_wfdb_header(text, "z.hea"); });
  CHECK(msg.find("z.hea:2") != std::string::npos);
  CHECK(msg.find("'adc_gain'") != std::string::npos);
  ecgssl::io::wfdb_parse_options options;
  options.zero_gain_means_default = true;
  CHECK(parse_wfdb_header(text, "z.hea", options).signals[0].adc_gain == 200.0);
}

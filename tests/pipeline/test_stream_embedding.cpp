// Streaming a long recording (data/record_windows.hpp, pipeline/embedding/stream_embedding.hpp):
// a record assembled from real 10 s recordings gives, window by window, the segments and the
// embeddings of cutting the whole record up and embedding the pieces; memory does not grow
// with the record's length.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "ecgssl/core/threading.hpp"
#include "ecgssl/data/record_segments.hpp"
#include "ecgssl/data/record_windows.hpp"
#include "ecgssl/io/wfdb_record.hpp"
#include "ecgssl/pipeline/embedding/segment_embedder.hpp"
#include "ecgssl/pipeline/embedding/stream_embedding.hpp"

using namespace ecgssl;
namespace fs = std::filesystem;

namespace {

const std::string records = std::string(ECGSSL_TEST_DATA_DIR) + "/records";
const fs::path torch_encoder = fs::path(ECGSSL_TEST_DATA_DIR) / "io" / "torch_checkpoint" / "encoder.safetensors";

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

/// Writes `dir`/long.hea + long.dat: `pieces` 10 s pieces alternating between two real 12-lead
/// 500 Hz format-16 recordings (PTB-XL 00001_hr and LUDB 3, both bundled), under the PTB-XL
/// header's gains and lead names. `invalid_at`: a frame whose lead V1 gets the invalid value.
fs::path assemble_long_record(const fs::path& dir, std::int64_t pieces, std::int64_t invalid_at = -1) {
  fs::create_directories(dir);
  const auto a = file_bytes(records + "/ptbxl/00001_hr.dat");
  const auto b = file_bytes(records + "/ludb/3.dat");
  REQUIRE(a.size() == 5000u * 12u * 2u);
  REQUIRE(b.size() == a.size());
  {
    std::ofstream dat(dir / "long.dat", std::ios::binary);
    for (std::int64_t p = 0; p < pieces; ++p) {
      const auto& piece = p % 2 == 0 ? a : b;
      dat.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    }
    if (invalid_at >= 0) {
      dat.seekp((invalid_at * 12 + 6) * 2);
      const char invalid[2] = {0x00, static_cast<char>(0x80)};
      dat.write(invalid, 2);
    }
  }
  std::ifstream hea(records + "/ptbxl/00001_hr.hea");
  std::ofstream out(dir / "long.hea");
  std::string line;
  std::getline(hea, line);
  out << "long 12 500 " << pieces * 5000 << "\n";
  for (int l = 0; l < 12 && std::getline(hea, line); ++l) {
    // "00001_hr.dat 16 1000.0(0)/mV 16 0 -115 13047 0 I": the file name changes, and the
    // initial value and checksum describe the original file, so they are dropped.
    std::vector<std::string> f;
    std::string word;
    for (std::istringstream words(line); words >> word;) f.push_back(word);
    out << "long.dat " << f[1] << " " << f[2] << " " << f[3] << " " << f[4] << " 0 0 0 " << f[8] << "\n";
  }
  return dir / "long";
}

}  // namespace

TEST_CASE("record_windows: each window equals the segment cut from the whole record at its start") {
  const fs::path dir = fs::temp_directory_path() / "ecgssl_windows_equal";
  fs::remove_all(dir);
  const auto path = assemble_long_record(dir, 5);  // 50 s
  const tensor<float, 2> whole = io::read_millivolts(path.string());
  const std::size_t n = whole.shape()[1];
  for (const char* leads : {"12", "3", "I,V5"}) {
    const auto kept = io::lead_set::parse(leads, at_field("--leads"));
    // hops shorter, equal, longer than the window (gaps), and one not dividing anything
    for (const std::size_t hop : {std::size_t{1250}, std::size_t{2500}, std::size_t{3100}, std::size_t{777}}) {
      CAPTURE(leads);
      CAPTURE(hop);
      data::record_windows windows(path.string(), kept, hop, 2500, 500.0, 997);
      CHECK(windows.count() == static_cast<std::int64_t>((n - 2500) / hop + 1));
      tensor<float, 2> w;
      data::window_position where;
      std::int64_t seen = 0;
      std::size_t mismatches = 0;
      while (windows.next(w, where)) {
        CHECK(where.index == seen);
        CHECK(where.start_sample == seen * static_cast<std::int64_t>(hop));
        CHECK_FALSE(where.has_invalid);
        for (std::size_t slot = 0; slot < 12; ++slot) {
          for (std::size_t t = 0; t < 2500; ++t) {
            const float expected = kept.contains(slot) ? whole(slot, static_cast<std::size_t>(where.start_sample) + t) : 0.0f;
            mismatches += std::memcmp(&expected, &w(slot, t), sizeof(float)) != 0;
          }
        }
        ++seen;
      }
      CHECK(seen == windows.count());
      CHECK(mismatches == 0);
    }
  }
  // hop = window reproduces read_record_segments exactly
  const auto segments = data::read_record_segments(path.string(), io::lead_set::parse("12", at_field("--leads")));
  data::record_windows windows(path.string(), io::lead_set::parse("12", at_field("--leads")), 2500);
  tensor<float, 2> w;
  data::window_position where;
  std::size_t s = 0;
  while (windows.next(w, where)) {
    CHECK(std::equal(w.begin(), w.end(), segments.segments.data() + s * w.size()));
    ++s;
  }
  CHECK(s == segments.segments.shape()[0]);
  fs::remove_all(dir);
}

TEST_CASE("record_windows: memory does not grow with the record's length") {
  const fs::path dir = fs::temp_directory_path() / "ecgssl_windows_memory";
  fs::remove_all(dir);
  std::vector<std::size_t> held;
  for (const std::int64_t pieces : {std::int64_t{6}, std::int64_t{120}}) {  // 1 and 20 minutes
    const auto path = assemble_long_record(dir / std::to_string(pieces), pieces);
    data::record_windows windows(path.string(), io::lead_set::parse("12", at_field("--leads")), 1250);
    tensor<float, 2> w;
    data::window_position where;
    std::size_t most = 0;
    while (windows.next(w, where)) most = std::max(most, windows.buffered_bytes());
    held.push_back(most);
  }
  MESSAGE("bytes held: 1 min " << held[0] << ", 20 min " << held[1]);
  CHECK(held[0] == held[1]);
  CHECK(held[1] < std::size_t{2} << 20);
  fs::remove_all(dir);
}

TEST_CASE("embed_stream: window by window, the embeddings of the pieces cut from the whole record") {
  set_threads(1);
  const fs::path dir = fs::temp_directory_path() / "ecgssl_stream_embed";
  fs::remove_all(dir);
  const auto path = assemble_long_record(dir, 4, /*invalid_at=*/17000);  // 40 s, lead V1 off for a sample at 34 s
  const auto kept = io::lead_set::parse("12", at_field("--leads"));
  pipeline::segment_embedder<host> embedder(torch_encoder.string(), std::nullopt);

  // The pieces: windows cut from the whole record, each encoded alone.
  const auto rec = io::read_record(path.string());
  std::vector<std::vector<float>> expected;
  std::vector<bool> piece_invalid;
  const std::size_t hop = 1250;
  for (std::size_t start = 0; start + 2500 <= static_cast<std::size_t>(rec.n_samples); start += hop) {
    auto x = tensor<float, 3>::from_shape({1, 12, 2500});
    bool invalid = false;
    for (std::size_t l = 0; l < 12; ++l)
      for (std::size_t t = 0; t < 2500; ++t) {
        const double v = rec.physical(l, start + t);
        invalid = invalid || std::isnan(v);
        x(0, l, t) = static_cast<float>(v);
      }
    piece_invalid.push_back(invalid);
    tensor<float, 2> pooled;
    if (!invalid) embedder.pool(x, pooled);
    expected.emplace_back(pooled.begin(), pooled.end());
  }
  const auto invalid_pieces = std::count(piece_invalid.begin(), piece_invalid.end(), true);
  CHECK(invalid_pieces == 2);  // sample 17000 lies in the windows starting at 15000 and 16250

  for (const std::size_t batch : {std::size_t{1}, std::size_t{5}}) {
    CAPTURE(batch);
    data::record_windows windows(path.string(), kept, hop);
    std::vector<std::int64_t> order;
    double worst = 0;
    std::size_t bitwise_equal = 0;
    const auto summary = pipeline::embed_stream(windows, embedder, batch, [&](const pipeline::window_embedding& w) {
      order.push_back(w.position.index);
      CHECK(w.start_seconds == doctest::Approx(static_cast<double>(w.position.start_sample) / 500.0));
      const auto& e = expected[static_cast<std::size_t>(w.position.index)];
      REQUIRE(e.size() == w.values.size());
      bitwise_equal += std::equal(e.begin(), e.end(), w.values.begin());
      for (std::size_t d = 0; d < e.size(); ++d) worst = std::max(worst, std::abs(double(e[d]) - w.values[d]));
    });
    CHECK(summary.windows + summary.skipped_invalid == static_cast<std::int64_t>(expected.size()));
    CHECK(summary.skipped_invalid == invalid_pieces);
    CHECK(summary.dim == 32);
    CHECK(std::is_sorted(order.begin(), order.end()));
    MESSAGE("batch " << batch << ": max |stream - pieces| = " << worst);
    if (batch == 1) CHECK(bitwise_equal == order.size());
    CHECK(worst < 1e-5);
  }
  fs::remove_all(dir);
}

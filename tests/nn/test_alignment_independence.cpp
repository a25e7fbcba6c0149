// Results must not depend on where buffers lie in memory (issue 19): the linear kernels and the
// ordered sums are run on copies of the same numbers placed at every float offset within a
// 64-byte line, each buffer shifted independently, and must give the same bits. Before the fix,
// `m.colwise().sum()` gave different bias gradients for different destination offsets (offsets
// 1-3 of every 4 floats with SSE's 16-byte packets, of every 8 with AVX), so this test fails on
// any x86-64 build when a reduction's order depends on an address.
#include <ecgssl/core/ordered_sum.hpp>
#include <ecgssl/nn/detail/linear_kernels.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace {

/// A float buffer whose first element sits `offset` floats past a 64-byte boundary.
class placed_buffer {
 public:
  placed_buffer(std::size_t n, std::size_t offset) : storage_(n + 32) {
    auto base = reinterpret_cast<std::uintptr_t>(storage_.data());
    base = (base + 63) & ~std::uintptr_t{63};
    data_ = reinterpret_cast<float*>(base) + offset;
  }
  float* data() { return data_; }

 private:
  std::vector<float> storage_;
  float* data_ = nullptr;
};

std::vector<float> random_values(std::size_t n, std::mt19937& gen) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& e : v) e = u(gen);
  return v;
}

bool same_bits(const float* a, const std::vector<float>& b) { return std::memcmp(a, b.data(), b.size() * sizeof(float)) == 0; }

}  // namespace

TEST_CASE("linear forward and backward give the same bits at every buffer alignment") {
  using kernel = ecgssl::implementation<ecgssl::nn::detail::linear_op, ecgssl::host>;
  std::mt19937 gen(19);
  // Shapes: tiny (Eigen's coefficient-based products), GEMV-like, and the encoder's projections.
  const Eigen::Index shapes[][3] = {{3, 5, 7}, {1, 37, 5}, {40, 300, 1}, {9, 65, 17}, {250, 128, 512}};
  for (const auto& shape : shapes) {
    const Eigen::Index rows = shape[0], in = shape[1], out = shape[2];
    CAPTURE(rows);
    CAPTURE(in);
    CAPTURE(out);
    const auto n = [](Eigen::Index a, Eigen::Index b) { return static_cast<std::size_t>(a * b); };
    const auto x = random_values(n(rows, in), gen), w = random_values(n(out, in), gen), b = random_values(n(out, 1), gen),
               dy = random_values(n(rows, out), gen), prior = random_values(n(out, in) + n(out, 1), gen);
    std::vector<float> y_ref, dx_ref, dw_ref, db_ref;
    // Offsets: all aligned first (the reference), then each buffer on its own and all together.
    for (std::size_t trial = 0; trial < 2 + 7 * 3; ++trial) {
      std::size_t off[7] = {0, 0, 0, 0, 0, 0, 0};  // x, w, b, y, dy, dw, db
      if (trial == 1) {
        for (std::size_t k = 0; k < 7; ++k) off[k] = 2 * k + 1;
      } else if (trial >= 2) {
        off[(trial - 2) % 7] = 1 + (trial - 2) / 7 * 5;  // 1, 6, 11
      }
      CAPTURE(trial);
      placed_buffer px(x.size(), off[0]), pw(w.size(), off[1]), pb(b.size(), off[2]), py(n(rows, out), off[3]),
          pdy(dy.size(), off[4]), pdx(x.size(), off[0] ? 16 - off[0] : 3), pdw(w.size(), off[5]), pdb(b.size(), off[6]);
      std::memcpy(px.data(), x.data(), x.size() * sizeof(float));
      std::memcpy(pw.data(), w.data(), w.size() * sizeof(float));
      std::memcpy(pb.data(), b.data(), b.size() * sizeof(float));
      std::memcpy(pdy.data(), dy.data(), dy.size() * sizeof(float));
      // Gradients accumulate: start them from the same non-zero values every time.
      std::memcpy(pdw.data(), prior.data(), w.size() * sizeof(float));
      std::memcpy(pdb.data(), prior.data() + w.size(), b.size() * sizeof(float));
      std::fill(pdx.data(), pdx.data() + x.size(), 0.0f);
      kernel::forward<float>(px.data(), pw.data(), pb.data(), py.data(), rows, in, out);
      kernel::backward<float>(px.data(), pw.data(), pdy.data(), pdx.data(), pdw.data(), pdb.data(), rows, in, out);
      if (trial == 0) {
        y_ref.assign(py.data(), py.data() + n(rows, out));
        dx_ref.assign(pdx.data(), pdx.data() + x.size());
        dw_ref.assign(pdw.data(), pdw.data() + w.size());
        db_ref.assign(pdb.data(), pdb.data() + b.size());
        continue;
      }
      CHECK(same_bits(py.data(), y_ref));
      CHECK(same_bits(pdx.data(), dx_ref));
      CHECK(same_bits(pdw.data(), dw_ref));
      CHECK(same_bits(pdb.data(), db_ref));
    }
  }
}

TEST_CASE("ordered sums add in index order, whatever the alignment") {
  std::mt19937 gen(7);
  const std::size_t rows = 37, cols = 101;
  const auto m = random_values(rows * cols, gen);
  // The reference, computed independently: a plain double-free float loop in the documented order.
  std::vector<float> expected(cols, 0.5f);
  for (std::size_t j = 0; j < cols; ++j) {
    float s = 0.0f;
    for (std::size_t i = 0; i < rows; ++i) s += m[i * cols + j];
    expected[j] += s;
  }
  float total = 0.0f;
  for (float v : m) total += v;
  for (std::size_t offset = 0; offset < 16; ++offset) {
    CAPTURE(offset);
    placed_buffer src(m.size(), offset), dst(cols, (offset * 5) % 16);
    std::memcpy(src.data(), m.data(), m.size() * sizeof(float));
    std::fill(dst.data(), dst.data() + cols, 0.5f);
    ecgssl::add_column_sums(dst.data(), src.data(), rows, cols);
    CHECK(same_bits(dst.data(), expected));
    const float s = ecgssl::ordered_sum(src.data(), m.size());
    CHECK(std::memcmp(&s, &total, sizeof s) == 0);
  }
  float untouched = 1.0f;
  ecgssl::add_column_sums(&untouched, m.data(), 0, 1);
  CHECK(untouched == 1.0f);
}

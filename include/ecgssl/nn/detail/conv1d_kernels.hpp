#pragma once
/// \file conv1d_kernels.hpp
/// Host math of nn::conv1d (spec §3.3 extractor, §3.6 positional conv): im2col per (sample,
/// group) into a per-thread workspace, then one Eigen GEMM. Parallel over the batch for the
/// output and input gradient (disjoint writes), over groups for the weight gradient with the
/// batch summed in a fixed order, so results do not depend on the thread count.

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../../core/backend.hpp"
#include "../../core/tensor.hpp"
#include "../../core/threading.hpp"
#include "common.hpp"
#include "gemm.hpp"

namespace ecgssl::nn::detail {

/// Operation tag of conv1d.
struct conv1d_op {};

/// Geometry of a 1-D convolution over x: [batch, in_channels, length].
struct conv1d_geometry {
  std::size_t batch = 0;
  std::size_t in_channels = 0;
  std::size_t out_channels = 0;
  std::size_t length = 0;
  std::size_t out_length = 0;
  std::size_t kernel = 1;
  std::size_t stride = 1;
  std::size_t padding = 0;
  std::size_t dilation = 1;
  std::size_t groups = 1;
  [[nodiscard]] std::size_t in_per_group() const { return in_channels / groups; }
  [[nodiscard]] std::size_t out_per_group() const { return out_channels / groups; }
  /// Rows of the im2col matrix of one group: (input channel, tap) pairs.
  [[nodiscard]] std::size_t patch() const { return in_per_group() * kernel; }
};

/// Output positions t in [lo, hi) whose tap k reads inside the signal: 0 <= t*s + k*d - p < T.
inline void valid_range(const conv1d_geometry& g, std::size_t k, std::size_t& lo, std::size_t& hi) {
  const std::int64_t offset = static_cast<std::int64_t>(k * g.dilation) - static_cast<std::int64_t>(g.padding);
  const auto s = static_cast<std::int64_t>(g.stride);
  const auto length = static_cast<std::int64_t>(g.length);
  const auto out = static_cast<std::int64_t>(g.out_length);
  // smallest t with t*s + offset >= 0
  std::int64_t first = offset >= 0 ? 0 : (-offset + s - 1) / s;
  // largest t with t*s + offset <= length - 1, plus one
  std::int64_t last = length - 1 - offset < 0 ? 0 : (length - 1 - offset) / s + 1;
  first = std::min(first, out);
  last = std::clamp(last, first, out);
  lo = static_cast<std::size_t>(first);
  hi = static_cast<std::size_t>(last);
}

/// cols[(ci, k), t] = x[group*Cin_g + ci, t*s + k*d - p] (0 outside). x_b: [Cin, T] of one sample.
template <class T>
void im2col(const conv1d_geometry& g, const T* x_b, std::size_t group, T* cols) {
  const std::size_t out = g.out_length;
  for (std::size_t ci = 0; ci < g.in_per_group(); ++ci) {
    const T* xc = x_b + (group * g.in_per_group() + ci) * g.length;
    for (std::size_t k = 0; k < g.kernel; ++k) {
      T* row = cols + (ci * g.kernel + k) * out;
      std::size_t lo = 0, hi = 0;
      valid_range(g, k, lo, hi);
      std::fill(row, row + lo, T(0));
      const std::int64_t offset = static_cast<std::int64_t>(k * g.dilation) - static_cast<std::int64_t>(g.padding);
      if (g.stride == 1) {
        std::copy(xc + (static_cast<std::int64_t>(lo) + offset), xc + (static_cast<std::int64_t>(hi) + offset), row + lo);
      } else {
        for (std::size_t t = lo; t < hi; ++t) {
          row[t] = xc[static_cast<std::int64_t>(t * g.stride) + offset];
        }
      }
      std::fill(row + hi, row + out, T(0));
    }
  }
}

/// The adjoint of im2col: dx[group*Cin_g + ci, t*s + k*d - p] += dcols[(ci, k), t].
template <class T>
void col2im_add(const conv1d_geometry& g, const T* dcols, std::size_t group, T* dx_b) {
  const std::size_t out = g.out_length;
  for (std::size_t ci = 0; ci < g.in_per_group(); ++ci) {
    T* dxc = dx_b + (group * g.in_per_group() + ci) * g.length;
    for (std::size_t k = 0; k < g.kernel; ++k) {
      const T* row = dcols + (ci * g.kernel + k) * out;
      std::size_t lo = 0, hi = 0;
      valid_range(g, k, lo, hi);
      const std::int64_t offset = static_cast<std::int64_t>(k * g.dilation) - static_cast<std::int64_t>(g.padding);
      for (std::size_t t = lo; t < hi; ++t) {
        dxc[static_cast<std::int64_t>(t * g.stride) + offset] += row[t];
      }
    }
  }
}

/// One buffer per OpenMP thread, grown on demand and then reused.
template <class T>
struct per_thread_workspace {
  std::vector<std::vector<T>> buffers;
  void reserve(std::size_t elements) {
    const auto threads = static_cast<std::size_t>(std::max(1, max_threads()));
    if (buffers.size() < threads) buffers.resize(threads);
    for (auto& b : buffers) {
      if (b.size() < elements) b.resize(elements);
    }
  }
  T* get() { return buffers[thread_index()].data(); }
  std::vector<T> shared_cols;  // im2col of a chunk of samples (weight gradient)
  std::vector<T> shared_dy;    // the matching output-gradient columns
};

}  // namespace ecgssl::nn::detail

namespace ecgssl {

template <>
struct implementation<nn::detail::conv1d_op, host> {
  using geometry = nn::detail::conv1d_geometry;
  template <class T>
  using workspace = nn::detail::per_thread_workspace<T>;
  /// Upper bound on the elements of the weight-gradient im2col buffer (fixes the chunking).
  static constexpr std::size_t weight_chunk_elements = std::size_t{1} << 22;
  /// Output channels per task of the weight-gradient GEMM.
  static constexpr Eigen::Index weight_row_block = 32;

  /// y[b, g-block] = W_g cols(x_b, g) (+ bias). x: [B, Cin, T], w: [Cout, Cin_g, K], y: [B, Cout, T'].
  template <class T>
  static void forward(const geometry& g, const T* x, const T* w, const T* bias, T* y, workspace<T>& ws) {
    const auto patch = static_cast<Eigen::Index>(g.patch());
    const auto out = static_cast<Eigen::Index>(g.out_length);
    const auto cout_g = static_cast<Eigen::Index>(g.out_per_group());
    ws.reserve(g.patch() * g.out_length);
    parallel_for(static_cast<std::int64_t>(g.batch), [&](std::int64_t b64) {
      const auto b = static_cast<std::size_t>(b64);
      T* cols = ws.get();
      for (std::size_t group = 0; group < g.groups; ++group) {
        nn::detail::im2col(g, x + b * g.in_channels * g.length, group, cols);
        auto yg = as_matrix(y + (b * g.out_channels + group * g.out_per_group()) * g.out_length, cout_g, out);
        nn::detail::serial_gemm(yg, as_matrix(w + group * g.out_per_group() * g.patch(), cout_g, patch),
                                as_matrix(static_cast<const T*>(cols), patch, out), false);
        if (bias != nullptr) {
          yg.colwise() += const_vector_map<T>(bias + group * g.out_per_group(), cout_g);
        }
      }
    });
  }

  /// dx += col2im(W_g^T dy_g); dw_g += sum_b dy_bg cols(x_b, g)^T; db += sums of dy over (b, t).
  /// Null dx or dw skip that gradient.
  template <class T>
  static void backward(const geometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                       workspace<T>& ws) {
    const auto patch = static_cast<Eigen::Index>(g.patch());
    const auto out = static_cast<Eigen::Index>(g.out_length);
    const auto cout_g = static_cast<Eigen::Index>(g.out_per_group());
    ws.reserve(g.patch() * g.out_length);
    auto dy_block = [&](std::size_t b, std::size_t group) {
      return as_matrix(dy + (b * g.out_channels + group * g.out_per_group()) * g.out_length, cout_g, out);
    };
    if (dx != nullptr) {
      parallel_for(static_cast<std::int64_t>(g.batch), [&](std::int64_t b64) {
        const auto b = static_cast<std::size_t>(b64);
        T* dcols = ws.get();
        for (std::size_t group = 0; group < g.groups; ++group) {
          nn::detail::serial_gemm(as_matrix(dcols, patch, out),
                                  as_matrix(w + group * g.out_per_group() * g.patch(), cout_g, patch).transpose(),
                                  dy_block(b, group), false);
          nn::detail::col2im_add(g, static_cast<const T*>(dcols), group, dx + b * g.in_channels * g.length);
        }
      });
    }
    if (dw != nullptr) {
      // dw_g += dy_g[Cout_g, n*T'] cols_g[patch, n*T']^T over chunks of n samples: one large
      // GEMM per (group, chunk) instead of many thin ones. The chunk size depends only on the
      // shapes (not on the thread count), so the summation order is fixed.
      const std::size_t per_sample = g.patch() * g.out_length;
      const std::size_t chunk = std::clamp<std::size_t>(weight_chunk_elements / std::max<std::size_t>(per_sample, 1),
                                                        1, g.batch);
      auto& cols = ws.shared_cols;
      auto& dys = ws.shared_dy;
      if (cols.size() < chunk * per_sample) cols.resize(chunk * per_sample);
      if (dys.size() < chunk * g.out_per_group() * g.out_length) dys.resize(chunk * g.out_per_group() * g.out_length);
      const auto width = static_cast<Eigen::Index>(g.out_length);
      for (std::size_t group = 0; group < g.groups; ++group) {
        auto dwg = as_matrix(dw + group * g.out_per_group() * g.patch(), cout_g, patch);
        for (std::size_t b0 = 0; b0 < g.batch; b0 += chunk) {
          const std::size_t n = std::min(chunk, g.batch - b0);
          const auto cols_width = static_cast<Eigen::Index>(n) * width;
          // Column block j of the chunk matrices belongs to sample b0 + j.
          parallel_for(static_cast<std::int64_t>(n), [&](std::int64_t j64) {
            const auto j = static_cast<std::size_t>(j64);
            T* scratch = ws.get();
            nn::detail::im2col(g, x + (b0 + j) * g.in_channels * g.length, group, scratch);
            as_matrix(cols.data(), patch, cols_width).middleCols(static_cast<Eigen::Index>(j) * width, width) =
                as_matrix(static_cast<const T*>(scratch), patch, width);
            as_matrix(dys.data(), cout_g, cols_width).middleCols(static_cast<Eigen::Index>(j) * width, width) =
                dy_block(b0 + j, group);
          });
          // Fixed row blocks on our own threads rather than Eigen's threaded GEMM, whose
          // spin-waits between depth panels collapse on an oversubscribed machine; each block
          // is one serial GEMM, so the result does not depend on the thread count.
          const auto dys_map = as_matrix(static_cast<const T*>(dys.data()), cout_g, cols_width);
          const auto cols_map = as_matrix(static_cast<const T*>(cols.data()), patch, cols_width);
          const Eigen::Index blocks = (cout_g + weight_row_block - 1) / weight_row_block;
          parallel_for(static_cast<std::int64_t>(blocks), [&](std::int64_t rb) {
            const Eigen::Index r0 = static_cast<Eigen::Index>(rb) * weight_row_block;
            const Eigen::Index rows = std::min<Eigen::Index>(weight_row_block, cout_g - r0);
            nn::detail::serial_gemm(dwg.middleRows(r0, rows), dys_map.middleRows(r0, rows), cols_map.transpose(), true);
          });
        }
      }
    }
    if (db != nullptr) {
      using acc = accumulator_t<T>;
      parallel_for(static_cast<std::int64_t>(g.out_channels), [&](std::int64_t c64) {
        const auto c = static_cast<std::size_t>(c64);
        acc sum = 0;
        for (std::size_t b = 0; b < g.batch; ++b) {
          const T* row = dy + (b * g.out_channels + c) * g.out_length;
          for (std::size_t t = 0; t < g.out_length; ++t) sum += static_cast<acc>(row[t]);
        }
        db[c] += static_cast<T>(sum);
      });
    }
  }
};

}  // namespace ecgssl

#pragma once
/// \file stream_embedding.hpp
/// Embeddings of a long recording as they come: windows from data::record_windows are encoded
/// `batch` at a time by any segment pooler (pipeline::segment_embedder on the host or on cuda)
/// and handed to a callback in record order, so a caller can write, plot or alarm on each one
/// while the rest of the record is still unread. Memory is one batch of windows plus the
/// window source's buffers; each window costs the same, wherever it lies in the record.
///
/// Windows with an invalid (NaN) sample in a kept lead are not encoded (spec §2.2 skips
/// missing samples); they are counted, and the callback is not called for them.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "../../core/error.hpp"
#include "../../core/tensor.hpp"
#include "../../data/record_windows.hpp"

namespace ecgssl::pipeline {

/// One encoded window: where it lies and its embedding (valid during the callback only).
struct window_embedding {
  data::window_position position;
  double start_seconds = 0.0;
  std::span<const float> values;
};

/// What a stream produced.
struct stream_embedding_summary {
  std::int64_t windows = 0;          ///< encoded and handed to the callback
  std::int64_t skipped_invalid = 0;  ///< not encoded: an invalid sample in a kept lead
  std::size_t dim = 0;
};

/// Encodes every window of `windows`, `batch` per forward, with `pooler` (an object with
/// `pool(const tensor<float, 3>& batch, tensor<float, 2>& pooled)`, such as
/// segment_embedder), and calls `on_window(const window_embedding&)` for each in order.
/// data_error (naming the record and window) if an embedding is not finite: outputs never are.
template <class Pooler, class OnWindow>
stream_embedding_summary embed_stream(data::record_windows& windows, Pooler& pooler, std::size_t batch, OnWindow&& on_window) {
  if (batch == 0) throw config_error(at_field("batch"), "0 windows", "at least 1 window per forward");
  stream_embedding_summary summary;
  const std::size_t length = windows.window();
  auto inputs = tensor<float, 3>::from_shape({batch, io::standard_lead_count, length});
  tensor<float, 3> partial;  // the last, shorter batch
  tensor<float, 2> window, pooled;
  std::vector<data::window_position> positions;
  positions.reserve(batch);

  auto flush = [&]() {
    if (positions.empty()) return;
    const tensor<float, 3>* x = &inputs;
    if (positions.size() < batch) {
      partial.resize({positions.size(), io::standard_lead_count, length});
      std::copy_n(inputs.data(), partial.size(), partial.data());
      x = &partial;
    }
    pooler.pool(*x, pooled);
    const std::size_t dim = pooled.shape()[1];
    summary.dim = dim;
    for (std::size_t i = 0; i < positions.size(); ++i) {
      const std::span<const float> row(pooled.data() + i * dim, dim);
      for (const float v : row) {
        if (!std::isfinite(v)) {
          throw data_error(in_file(windows.header_path().string(), "window " + std::to_string(positions[i].index)),
                           "its embedding is not finite", "finite input samples (check the header's gains and the signal file)");
        }
      }
      on_window(window_embedding{positions[i], static_cast<double>(positions[i].start_sample) / windows.fs(), row});
      ++summary.windows;
    }
    positions.clear();
  };

  data::window_position where;
  while (windows.next(window, where)) {
    if (where.has_invalid) {
      ++summary.skipped_invalid;
      continue;
    }
    std::copy_n(window.data(), window.size(), inputs.data() + positions.size() * window.size());
    positions.push_back(where);
    if (positions.size() == batch) flush();
  }
  flush();
  return summary;
}

}  // namespace ecgssl::pipeline

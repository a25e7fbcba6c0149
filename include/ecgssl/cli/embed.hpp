#pragma once
/// \file embed.hpp
/// `ecgssl embed`: embeddings of WFDB records from a pre-trained encoder (spec §6.1): eval mode,
/// no time masking, no RLM; each record is placed into the 12 canonical lead slots (leads outside
/// --leads, and leads the record lacks, are zero-filled, spec §3.1), cut into 5 s segments at
/// 500 Hz, encoded, and the transformer output is mean-pooled over time (non-zero count, as the
/// reference) per segment, or further averaged over the record's segments (--pool record).
///
///   ecgssl embed --checkpoint CK [--config NAME_OR_JSON] [--leads LIST] [--pool segment|record]
///                --out FILE.csv|FILE.npy RECORD...
///
/// CSV: `record,segment,e0,...,e{D-1}` (segment is "all" with --pool record). NPY: float32
/// [rows, D] in the same row order. Written atomically. `--device cuda` (an ecgssl built with
/// CUDA) encodes on the GPU.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/backend.hpp"
#include "../core/backend_tensor.hpp"
#include "../core/threading.hpp"
#include "../io/atomic_file.hpp"
#include "../io/lead_names.hpp"
#include "../io/lead_set.hpp"
#include "../loss/detail/nonzero_mean_pool.hpp"
#include "../nn/detail/common.hpp"
#include "../pipeline/pretrained_encoder.hpp"
#include "../pipeline/training_backend.hpp"
#include "../pipeline/wfdb_dataset.hpp"
#include "detail/cli11_run.hpp"
#include "detail/device_option.hpp"

namespace ecgssl::cli {

namespace detail {

/// Writes rows [n, dim] of float32 as a .npy (version 1.0) document.
inline std::string npy_bytes(const std::vector<float>& values, std::size_t rows, std::size_t dim) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(dim) + "), }";
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  const std::size_t start = out.size();
  out.resize(start + values.size() * sizeof(float));
  std::memcpy(out.data() + start, values.data(), values.size() * sizeof(float));  // little-endian host
  return out;
}

/// Pools each 5 s segment of a batch [segments, 12, 2500] into its embedding [segments, D]
/// (non-zero mean over the encoded frames, as the reference).
using segment_pooler = std::function<void(const tensor<float, 3>& batch, tensor<float, 2>& pooled)>;

/// A pre-trained encoder in evaluation mode on `Backend` with its parameters there (cuda: the
/// translation unit includes <ecgssl/cuda/nonzero_mean_pool.cuh> and the encoder's kernels).
template <class Backend>
class segment_embedder {
 public:
  segment_embedder(const std::string& checkpoint, const std::optional<std::string>& config)
      : model_(checkpoint, config), parameters_(model_.parameters()) {}

  void pool(const tensor<float, 3>& batch, tensor<float, 2>& pooled) {
    using pool_op = implementation_t<loss_detail::nonzero_mean_pool_op, Backend>;
    // Attention mixes nothing across segments here (time attention), so one forward per record.
    if constexpr (std::is_same_v<Backend, host>) {
      pool_op::forward(model_.encoder().forward(batch).encoded, pooled, counts_);
    } else {
      nn::detail::assign_from_host(input_, batch);
      pool_op::forward(model_.encoder().forward(input_).encoded, pooled_, counts_);
      pooled_.copy_to_host(pooled);
    }
  }

 private:
  using config_type = model::tiny_config<float, Backend>;
  pipeline::pretrained_encoder<config_type> model_;
  pipeline::inference_parameters<float, Backend> parameters_;
  backend_tensor_t<float, 3, Backend> input_;            // cuda: the uploaded batch
  backend_tensor_t<float, 2, Backend> pooled_, counts_;  // pooled_: cuda only (the host pools into the caller's)
};

template <class Backend>
segment_pooler make_segment_pooler(const std::string& checkpoint, const std::optional<std::string>& config) {
  auto embedder = std::make_shared<segment_embedder<Backend>>(checkpoint, config);
  return [embedder](const tensor<float, 3>& batch, tensor<float, 2>& pooled) { embedder->pool(batch, pooled); };
}

#if defined(ECGSSL_CLI_WITH_CUDA)
/// make_segment_pooler<cuda>, defined in the CUDA translation unit of the command.
segment_pooler segment_pooler_on_cuda(const std::string& checkpoint, const std::optional<std::string>& config);
#endif

}  // namespace detail

/// Runs `embed` on `args` (the words after "embed"): 0 on success, 2 on a usage error, 1 when
/// the checkpoint, a record or the output fails (one line on `err`; nothing is written).
inline int run_embed(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string checkpoint, config, leads = "12", pool = "segment", output;
  std::vector<std::string> records;
  int threads = 0;
  CLI::App app{"Embed ECG records with a pre-trained encoder", "ecgssl embed"};
  app.add_option("--checkpoint", checkpoint, "pre-training checkpoint (.safetensors)")->required();
  app.add_option("--config", config, "tiny, small, base or JSON (default: the checkpoint's)");
  app.add_option("--leads", leads, "lead set kept (12, 6, 3, 2, 1 or names such as I,II,V2); others zero")->capture_default_str();
  app.add_option("--pool", pool, "segment or record")->capture_default_str()->check(CLI::IsMember({"segment", "record"}));
  app.add_option("--out", output, "output .csv or .npy")->required();
  app.add_option("--threads", threads, "OpenMP threads (0 = default)")->check(CLI::NonNegativeNumber);
  app.add_option("records", records, "WFDB records (.hea files or record paths)")->required();
  std::string device = "host";
  detail::add_device_option(app, device);
  return detail::run_cli11(app, args, out, err, [&]() -> int {
    const auto where = detail::parse_device(device);
    const bool npy = output.size() >= 4 && output.compare(output.size() - 4, 4, ".npy") == 0;
    const bool csv = output.size() >= 4 && output.compare(output.size() - 4, 4, ".csv") == 0;
    if (!npy && !csv) throw config_error(at_field("--out"), "'" + output + "'", "a file name ending in .csv or .npy");
    if (threads > 0) set_threads(threads);
    const io::lead_set kept = io::lead_set::parse(leads, at_field("--leads"));
    const auto config_override = config.empty() ? std::nullopt : std::optional<std::string>(config);
#if defined(ECGSSL_CLI_WITH_CUDA)
    const detail::segment_pooler pool_segments = where == detail::compute_device::cuda
                                                     ? detail::segment_pooler_on_cuda(checkpoint, config_override)
                                                     : detail::make_segment_pooler<host>(checkpoint, config_override);
#else
    (void)where;  // parse_device refused cuda: this binary has no GPU pipelines
    const detail::segment_pooler pool_segments = detail::make_segment_pooler<host>(checkpoint, config_override);
#endif
    constexpr std::size_t length = 2500;
    std::vector<float> rows;
    std::vector<std::pair<std::string, std::string>> labels;  // (record, segment)
    std::size_t dim = 0;
    tensor<float, 3> batch;
    tensor<float, 2> pooled;
    for (const auto& name : records) {
      std::filesystem::path header(name);
      if (header.extension() != ".hea") header += ".hea";
      const io::manifest_entry e = pipeline::wfdb_dataset::manifest_entry_of(header);
      if (!e.usable()) throw data_error(in_file(header.string()), e.skip_reason, "a single-segment WFDB record");
      if (e.sampling_frequency != 500.0) {
        throw data_error(in_file(header.string(), "sampling frequency"), std::to_string(e.sampling_frequency) + " Hz",
                         "500 Hz (resample the record first)");
      }
      const std::size_t segments = static_cast<std::size_t>(e.samples) / length;
      if (segments == 0) {
        throw data_error(in_file(header.string(), "samples"), std::to_string(e.samples), "at least 2500 (one 5 s segment)");
      }
      io::manifest_entry abs = e;
      abs.path = header.string();
      const tensor<float, 2> signal = pipeline::wfdb_dataset::read_millivolts({}, abs);
      batch.resize({segments, io::standard_lead_count, length});
      std::fill(batch.begin(), batch.end(), 0.0f);
      const std::size_t n = signal.shape()[1];
      for (std::size_t l = 0; l < e.leads.size(); ++l) {
        const auto slot = io::standard_lead_index(e.leads[l]);
        if (!slot || !kept.contains(*slot)) continue;
        for (std::size_t s = 0; s < segments; ++s) {
          std::copy_n(signal.data() + l * n + s * length, length, batch.data() + (s * io::standard_lead_count + *slot) * length);
        }
      }
      pool_segments(batch, pooled);
      dim = pooled.shape()[1];
      if (pool == "segment") {
        rows.insert(rows.end(), pooled.begin(), pooled.end());
        for (std::size_t s = 0; s < segments; ++s) labels.emplace_back(e.record_id, std::to_string(s));
      } else {
        std::vector<double> mean(dim, 0.0);
        for (std::size_t s = 0; s < segments; ++s)
          for (std::size_t d = 0; d < dim; ++d) mean[d] += pooled(s, d);
        for (std::size_t d = 0; d < dim; ++d) rows.push_back(static_cast<float>(mean[d] / static_cast<double>(segments)));
        labels.emplace_back(e.record_id, "all");
      }
    }
    std::string bytes;
    if (npy) {
      bytes = detail::npy_bytes(rows, labels.size(), dim);
    } else {
      std::ostringstream text;
      text.precision(9);
      text << "record,segment";
      for (std::size_t d = 0; d < dim; ++d) text << ",e" << d;
      text << "\n";
      for (std::size_t r = 0; r < labels.size(); ++r) {
        text << labels[r].first << "," << labels[r].second;
        for (std::size_t d = 0; d < dim; ++d) text << "," << rows[r * dim + d];
        text << "\n";
      }
      bytes = text.str();
    }
    io::atomic_file file(output);
    file.write(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
    file.commit();
    out << "embed: " << labels.size() << " rows of " << dim << " values from " << records.size() << " records -> "
        << output << "\n";
    return 0;
  });
}

}  // namespace ecgssl::cli

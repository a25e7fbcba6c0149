/// \file embed.cpp
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

#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <ecgssl/core/threading.hpp>
#include <ecgssl/data/record_segments.hpp>
#include <ecgssl/io/atomic_file.hpp>
#include <ecgssl/io/lead_set.hpp>
#include <ecgssl/io/npy.hpp>
#include <ecgssl/pipeline/embedding/segment_embedder.hpp>

#include "commands.hpp"
#include "detail/cli11_run.hpp"
#include "detail/device_option.hpp"
#include "detail/output_target.hpp"

namespace ecgssl::cli {

namespace detail {

/// Pools a record's segments [segments, 12, 2500] into their embeddings [segments, D].
using segment_pooler = std::function<void(const tensor<float, 3>& batch, tensor<float, 2>& pooled)>;

#if defined(ECGSSL_CLI_WITH_CUDA)
/// A pipeline::segment_embedder<cuda>, made in the CUDA translation unit (app/cuda_pipelines.cu).
segment_pooler segment_pooler_on_cuda(const std::string& checkpoint, const std::optional<std::string>& config);
#endif

segment_pooler host_segment_pooler(const std::string& checkpoint, const std::optional<std::string>& config) {
  auto embedder = std::make_shared<pipeline::segment_embedder<host>>(checkpoint, config);
  return [embedder](const tensor<float, 3>& batch, tensor<float, 2>& pooled) { embedder->pool(batch, pooled); };
}

}  // namespace detail

/// Runs `embed` on `args` (the words after "embed"): 0 on success, 2 on a usage error, 1 when
/// the checkpoint, a record or the output fails (one line on `err`; nothing is written).
int run_embed(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
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
    const auto lock = detail::claim_output(output, "--out");
    if (threads > 0) set_threads(threads);
    const io::lead_set kept = io::lead_set::parse(leads, at_field("--leads"));
    const auto config_override = config.empty() ? std::nullopt : std::optional<std::string>(config);
#if defined(ECGSSL_CLI_WITH_CUDA)
    const detail::segment_pooler pool_segments = where == detail::compute_device::cuda
                                                     ? detail::segment_pooler_on_cuda(checkpoint, config_override)
                                                     : detail::host_segment_pooler(checkpoint, config_override);
#else
    (void)where;  // parse_device refused cuda: this binary has no GPU pipelines
    const detail::segment_pooler pool_segments = detail::host_segment_pooler(checkpoint, config_override);
#endif
    std::vector<float> rows;
    std::vector<std::pair<std::string, std::string>> labels;  // (record, segment)
    std::size_t dim = 0;
    tensor<float, 2> pooled;
    for (const auto& name : records) {
      const data::record_segments record = data::read_record_segments(name, kept);
      const std::size_t segments = record.segments.shape()[0];
      pool_segments(record.segments, pooled);
      // Outputs are never non-finite: a huge gain or a corrupt sample would otherwise reach the
      // file as rows of NaN with exit status 0.
      for (std::size_t i = 0; i < pooled.size(); ++i) {
        if (!std::isfinite(pooled.data()[i])) {
          throw data_error(in_file(name, "segment " + std::to_string(i / pooled.shape()[1])),
                           "its embedding is not finite", "finite input samples (check the header's gains and the signal file)");
        }
      }
      dim = pooled.shape()[1];
      if (pool == "segment") {
        rows.insert(rows.end(), pooled.begin(), pooled.end());
        for (std::size_t s = 0; s < segments; ++s) labels.emplace_back(record.record_id, std::to_string(s));
      } else {
        std::vector<double> mean(dim, 0.0);
        for (std::size_t s = 0; s < segments; ++s)
          for (std::size_t d = 0; d < dim; ++d) mean[d] += pooled(s, d);
        for (std::size_t d = 0; d < dim; ++d) rows.push_back(static_cast<float>(mean[d] / static_cast<double>(segments)));
        labels.emplace_back(record.record_id, "all");
      }
    }
    std::string bytes;
    if (npy) {
      bytes = io::npy_bytes(rows, labels.size(), dim);
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

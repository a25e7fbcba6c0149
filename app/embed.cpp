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
///
/// `--stream --hop-s H` reads each record in chunks instead (hours-long Holter records; memory
/// bounded by the window, not the record) and embeds the 5 s windows starting every H
/// seconds, `--batch` windows per forward, writing each CSV row `record,window,start_s,e0,...`
/// as soon as its batch is encoded: to standard output with `--out -`, else into the output's
/// temporary file, renamed into place when every record is done.

#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <ecgssl/core/threading.hpp>
#include <ecgssl/data/preprocessing.hpp>
#include <ecgssl/data/record_segments.hpp>
#include <ecgssl/io/atomic_file.hpp>
#include <ecgssl/io/lead_set.hpp>
#include <ecgssl/io/npy.hpp>
#include <ecgssl/pipeline/embedding/segment_embedder.hpp>
#include <ecgssl/pipeline/embedding/stream_embedding.hpp>

#include "commands.hpp"
#include "detail/cli11_run.hpp"
#include "detail/device_option.hpp"
#include "detail/precision_option.hpp"
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

/// `embed --stream`: rows leave as each batch of windows is encoded.
int stream_embed(const std::vector<std::string>& records, const io::lead_set& kept, double hop_seconds, std::size_t batch,
                 const segment_pooler& pool_segments, const std::string& output, std::ostream& out, std::ostream& err) {
  struct pooler_ref {
    const segment_pooler& f;
    void pool(const tensor<float, 3>& b, tensor<float, 2>& p) const { f(b, p); }
  } pooler{pool_segments};
  const bool to_stdout = output == "-";
  std::optional<io::atomic_file> file;
  if (!to_stdout) file.emplace(output);
  std::ostringstream text;
  text.precision(9);
  bool header_written = false;
  auto emit = [&]() {
    const std::string bytes = text.str();
    if (to_stdout) {
      out << bytes << std::flush;
    } else {
      file->write(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
    }
    text.str("");
  };
  std::int64_t rows = 0, skipped = 0;
  std::size_t dim = 0;
  // Opening every record first refuses a bad one before any window is encoded.
  std::vector<std::unique_ptr<data::record_windows>> opened;
  for (const auto& name : records) {
    const double hop = hop_seconds * 500.0;
    if (!(hop >= 1.0) || std::abs(hop - std::round(hop)) > 1e-9) {
      throw config_error(at_field("--hop-s"), std::to_string(hop_seconds) + " s", "a whole number of samples at 500 Hz (e.g. 2.5, 5, 0.002)");
    }
    opened.push_back(std::make_unique<data::record_windows>(name, kept, static_cast<std::size_t>(std::llround(hop))));
  }
  for (auto& windows : opened) {
    const auto summary = pipeline::embed_stream(*windows, pooler, batch, [&](const pipeline::window_embedding& w) {
      if (!header_written) {
        text << "record,window,start_s";
        for (std::size_t d = 0; d < w.values.size(); ++d) text << ",e" << d;
        text << "\n";
        header_written = true;
      }
      text << windows->record_id() << "," << w.position.index << "," << w.start_seconds;
      for (const float v : w.values) text << "," << v;
      text << "\n";
      ++rows;
      // A full batch has just been encoded when the last of its rows arrives; emitting every
      // row keeps the latency of the first window of a batch at one forward.
      emit();
    });
    skipped += summary.skipped_invalid;
    dim = std::max(dim, summary.dim);
  }
  if (!to_stdout) file->commit();
  std::ostream& report = to_stdout ? err : out;
  report << "embed --stream: " << rows << " windows of " << dim << " values from " << records.size() << " records"
         << (skipped > 0 ? " (" + std::to_string(skipped) + " windows skipped: invalid samples)" : std::string()) << " -> " << output << "\n";
  return 0;
}

}  // namespace detail

/// Runs `embed` on `args` (the words after "embed"): 0 on success, 2 on a usage error, 1 when
/// the checkpoint, a record or the output fails (one line on `err`; nothing is written).
int run_embed(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string checkpoint, config, leads = "12", pool = "segment", output;
  std::vector<std::string> records;
  int threads = 0;
  bool stream = false;
  double hop_seconds = 2.5;
  std::size_t batch = 16;
  CLI::App app{"Embed ECG records with a pre-trained encoder", "ecgssl embed"};
  app.add_option("--checkpoint", checkpoint, "pre-training checkpoint (.safetensors)")->required();
  app.add_option("--config", config, "tiny, small, base or JSON (default: the checkpoint's)");
  app.add_option("--leads", leads, "lead set kept (12, 6, 3, 2, 1 or names such as I,II,V2); others zero")->capture_default_str();
  app.add_option("--pool", pool, "segment or record")->capture_default_str()->check(CLI::IsMember({"segment", "record"}));
  app.add_option("--out", output, "output .csv or .npy")->required();
  app.add_option("--threads", threads, "OpenMP threads (0 = default)")->check(CLI::NonNegativeNumber);
  app.add_option("records", records, "WFDB records (.hea files or record paths)")->required();
  app.add_flag("--stream", stream, "read records in chunks and embed windows every --hop-s seconds (long recordings); CSV rows as they come");
  app.add_option("--hop-s", hop_seconds, "with --stream: seconds between window starts")->capture_default_str()->check(CLI::PositiveNumber);
  std::string preprocess;
  app.add_option("--preprocess", preprocess, "none or bandpass,zscore: only for a checkpoint that records none (default: the checkpoint's)");
  app.add_option("--batch", batch, "with --stream: windows per forward")->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
  std::string device = "host", precision_text = "fp32";
  detail::add_device_option(app, device);
  detail::add_precision_option(app, precision_text);
  return detail::run_cli11(app, args, out, err, [&]() -> int {
    const auto where = detail::parse_device(device);
    const precision_scope products(detail::parse_precision_option(precision_text, where));
    const bool npy = output.size() >= 4 && output.compare(output.size() - 4, 4, ".npy") == 0;
    const bool csv = output.size() >= 4 && output.compare(output.size() - 4, 4, ".csv") == 0;
    if (stream) {
      if (!csv && output != "-") throw config_error(at_field("--out"), "'" + output + "'", "with --stream: a .csv file or - (standard output)");
      if (pool != "segment") throw config_error(at_field("--pool"), "'" + pool + "'", "segment with --stream (a window per row)");
    } else if (!npy && !csv) {
      throw config_error(at_field("--out"), "'" + output + "'", "a file name ending in .csv or .npy");
    }
    std::optional<detail::output_lock> lock;
    if (output != "-") {
      detail::check_output_file(output, "--out");
      lock.emplace(output, "--out");
    }
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
    const data::preprocessing prep =
        data::preprocessing_for(data::recorded_preprocessing(io::checkpoint::load(checkpoint), checkpoint), preprocess, checkpoint);
    if (stream && prep != data::preprocessing::none) {
      // The band-pass and z-score take the whole record; windows of a stream cannot reproduce them.
      throw config_error(at_field("--stream"), "a checkpoint trained on '" + std::string(data::preprocessing_name(prep)) + "' data",
                         "a checkpoint trained on millivolts (preprocess none), or embed without --stream");
    }
    if (stream) return detail::stream_embed(records, kept, hop_seconds, batch, pool_segments, output, out, err);
    std::vector<float> rows;
    std::vector<std::pair<std::string, std::string>> labels;  // (record, segment)
    std::size_t dim = 0;
    tensor<float, 2> pooled;
    for (const auto& name : records) {
      const data::record_segments record = data::read_record_segments(name, kept, 2500, 500.0, prep);
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

// Corrupted inputs: every case copies a good record or checkpoint from tests/data into a fresh
// folder, breaks one thing in it, reads it with the reader a user would call, and requires the
// error class, the exact field and the corrupted file's name in the message. A reader that
// accepts the file, throws something else (std::bad_alloc, a nlohmann exception) or names the
// wrong field fails its case, so a regression says which corruption it concerns.
#include <doctest/doctest.h>

#include <unistd.h>

#include <bit>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <set>
#include <string>
#include <typeinfo>
#include <vector>

#include <nlohmann/json.hpp>

#include <ecgssl/core/error.hpp>
#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/io/checkpoint.hpp>
#include <ecgssl/io/wfdb_manifest.hpp>
#include <ecgssl/io/wfdb_record.hpp>
#include <ecgssl/model/encoder_config.hpp>
#include <ecgssl/pipeline/embedding/pretrained_encoder.hpp>

namespace fs = std::filesystem;

namespace {

// ------------------------------------------------------------------ file edits

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// A corruption: applied to the case's folder after the good files were copied into it.
using edit = std::function<void(const fs::path& dir)>;

edit replace(std::string file, std::string from, std::string to) {
  return [=](const fs::path& dir) {
    std::string text = read_file(dir / file);
    // A corruption that changes nothing would let its case pass for the wrong reason.
    REQUIRE_MESSAGE(contains(text, from), file << " has no '" << from << "'");
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
    write_file(dir / file, text);
  };
}

edit contents(std::string file, std::string bytes) {
  return [=](const fs::path& dir) { write_file(dir / file, bytes); };
}

/// Sets blank-separated token `token` of line `line` (both from 0) of a text file.
edit token(std::string file, std::size_t line, std::size_t token, std::string value) {
  return [=](const fs::path& dir) {
    std::vector<std::string> lines;
    std::string text = read_file(dir / file);
    for (std::size_t pos = 0; pos < text.size();) {
      const auto end = std::min(text.find('\n', pos), text.size());
      lines.push_back(text.substr(pos, end - pos));
      pos = end + 1;
    }
    REQUIRE(line < lines.size());
    std::vector<std::string> tokens;
    for (std::size_t i = 0, n = lines[line].size(); i < n;) {
      while (i < n && lines[line][i] == ' ') ++i;
      const auto start = i;
      while (i < n && lines[line][i] != ' ') ++i;
      if (i > start) tokens.push_back(lines[line].substr(start, i - start));
    }
    REQUIRE(token < tokens.size());
    tokens[token] = value;
    lines[line].clear();
    for (const auto& t : tokens) lines[line] += (lines[line].empty() ? "" : " ") + t;
    text.clear();
    for (const auto& l : lines) text += l + "\n";
    write_file(dir / file, text);
  };
}

edit resize_by(std::string file, std::int64_t delta) {
  return [=](const fs::path& dir) {
    const auto size = static_cast<std::int64_t>(fs::file_size(dir / file));
    fs::resize_file(dir / file, static_cast<std::uintmax_t>(size + delta));
  };
}

edit remove_file(std::string file) {
  return [=](const fs::path& dir) { REQUIRE(fs::remove(dir / file)); };
}

/// Overwrites `bytes.size()` bytes at `offset`.
edit patch(std::string file, std::size_t offset, std::string bytes) {
  return [=](const fs::path& dir) {
    std::string data = read_file(dir / file);
    REQUIRE(offset + bytes.size() <= data.size());
    data.replace(offset, bytes.size(), bytes);
    write_file(dir / file, data);
  };
}

template <class T>
std::string le_bytes(T value) {
  static_assert(std::endian::native == std::endian::little);
  std::string out(sizeof(T), '\0');
  std::memcpy(out.data(), &value, sizeof(T));
  return out;
}

edit all(std::vector<edit> edits) {
  return [=](const fs::path& dir) {
    for (const auto& e : edits) e(dir);
  };
}

// safetensors: [u64 header length][JSON header][data]. Edits of the header keep the data.
const std::string checkpoint_file = "ck.safetensors";

std::uint64_t header_length(const std::string& file) {
  std::uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  return n;
}

/// Rewrites the header text, fixing the length field (padded with spaces as the writer does).
edit header_text(std::function<void(std::string&)> change) {
  return [=](const fs::path& dir) {
    const std::string file = read_file(dir / checkpoint_file);
    const auto n = header_length(file);
    std::string head = file.substr(8, n);
    change(head);
    head.append((8 - head.size() % 8) % 8, ' ');
    write_file(dir / checkpoint_file, le_bytes<std::uint64_t>(head.size()) + head + file.substr(8 + n));
  };
}

edit header_json(std::function<void(nlohmann::ordered_json&)> change) {
  return header_text([=](std::string& head) {
    auto h = nlohmann::ordered_json::parse(head);
    change(h);
    head = h.dump();
  });
}

/// Edits the model configuration ("ecgssl.config", a JSON document inside a metadata string).
edit config_json(std::function<void(nlohmann::json&)> change) {
  return header_json([=](nlohmann::ordered_json& h) {
    auto config = nlohmann::json::parse(h["__metadata__"]["ecgssl.config"].get<std::string>());
    change(config);
    h["__metadata__"]["ecgssl.config"] = config.dump();
  });
}

/// Overwrites element `index` of the F32 tensor `name` in the data section.
edit f32_value(std::string name, std::size_t index, float value) {
  return [=](const fs::path& dir) {
    const std::string file = read_file(dir / checkpoint_file);
    const auto n = header_length(file);
    const auto h = nlohmann::json::parse(file.substr(8, n));
    REQUIRE(h.at(name).at("dtype") == "F32");
    const std::size_t begin = h.at(name).at("data_offsets")[0].get<std::size_t>();
    patch(checkpoint_file, 8 + n + begin + 4 * index, le_bytes(value))(dir);
  };
}

// ------------------------------------------------------------------ good inputs

enum class base { ptbxl, challenge, formats, multi_segment, checkpoint, configured };

/// Copies the good files of `b` into `dir`; returns what the reader is given.
fs::path prepare(base b, const fs::path& dir) {
  const fs::path data(ECGSSL_TEST_DATA_DIR);
  const auto copy_prefixed = [&](const fs::path& folder, const std::string& prefix) {
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.is_regular_file() && entry.path().filename().string().rfind(prefix, 0) == 0) {
        fs::copy_file(entry.path(), dir / entry.path().filename());
      }
    }
    return dir / prefix;
  };
  switch (b) {
    case base::ptbxl: return copy_prefixed(data / "records/ptbxl", "00001_hr");
    case base::challenge: return copy_prefixed(data / "records/challenge", "A0001");
    case base::formats: return copy_prefixed(data / "records/wfdb", "binformats");
    case base::multi_segment: return copy_prefixed(data / "records/wfdb/041s", "041s");
    case base::checkpoint:
    case base::configured:
      fs::copy_file(data / "io/checkpoints/python_same_as_cpp.safetensors", dir / checkpoint_file);
      if (b == base::configured) {
        // The fixture's configuration is not an encoder's: give it the tiny model's, as written by pretraining.
        header_json([](nlohmann::ordered_json& h) {
          nlohmann::json config;
          ecgssl::model::encoder_config::write_checkpoint_config(config, ecgssl::model::encoder_config::named("tiny"));
          h["__metadata__"]["ecgssl.config"] = config.dump();
        })(dir);
      }
      return dir / checkpoint_file;
  }
  return {};
}

// ------------------------------------------------------------------ readers

enum class reader { record, record_strict_checksum, checkpoint, parameters, trainer_step, encoder_options };

void call(reader r, const fs::path& target) {
  switch (r) {
    case reader::record: (void)ecgssl::io::read_record(target.string()); return;
    case reader::record_strict_checksum: {
      ecgssl::io::wfdb_read_options options;
      options.strict_checksum = true;
      (void)ecgssl::io::read_record(target.string(), options);
      return;
    }
    case reader::checkpoint: (void)ecgssl::io::checkpoint::load(target); return;
    case reader::parameters: {
      // The store the fixture's tensors b and w were saved from.
      ecgssl::parameter_store<float> store;
      store.add("b", {2});
      store.add("w", {2, 3});
      store.allocate();
      (void)ecgssl::io::checkpoint::load(target).load_parameters(store);
      return;
    }
    case reader::trainer_step: (void)ecgssl::io::checkpoint::load(target).scalar("trainer.step"); return;
    case reader::encoder_options: (void)ecgssl::pipeline::pretrained_encoder_options(ecgssl::io::checkpoint::load(target), target); return;
  }
}

enum class error_class { io, shape, config, data };

const char* class_name(error_class c) {
  switch (c) {
    case error_class::io: return "io_error";
    case error_class::shape: return "shape_error";
    case error_class::config: return "config_error";
    case error_class::data: return "data_error";
  }
  return "?";
}

std::string class_name(const ecgssl::error& e) {
  if (dynamic_cast<const ecgssl::io_error*>(&e)) return "io_error";
  if (dynamic_cast<const ecgssl::shape_error*>(&e)) return "shape_error";
  if (dynamic_cast<const ecgssl::config_error*>(&e)) return "config_error";
  if (dynamic_cast<const ecgssl::data_error*>(&e)) return "data_error";
  return "another ecgssl::error";
}

// ------------------------------------------------------------------ the cases

struct corruption {
  std::string name;
  base from;
  edit corrupt;
  reader read;
  error_class expected;
  std::string field;       // where().field, exactly
  std::string file;        // the file the message must name
  std::string detail = {};  // also in the message, where the field alone does not say what is wrong
};

std::vector<corruption> corruptions() {
  using enum error_class;
  const std::string hea = "00001_hr.hea", dat = "00001_hr.dat";   // PTB-XL: 12 leads, format 16, 5000 samples
  const std::string mhea = "A0001.hea", mat = "A0001.mat";        // Challenge: MATLAB v4, 12 x 7500
  const std::string master = "041s.hea";                          // two segments of 1000 samples
  const std::string ck = checkpoint_file;                         // b [2], w [2,3], optimizer.*, trainer.*
  const auto r = reader::record;
  std::vector<corruption> t = {
      // --- header text
      {"empty header", base::ptbxl, contents(hea, ""), r, io, "record line", hea},
      {"header of comments only", base::ptbxl, contents(hea, "\n# 00001_hr 12 500 5000\n\n"), r, io, "record line", hea},
      {"signal file saved as the header", base::ptbxl, [=](const fs::path& d) { fs::copy_file(d / dat, d / hea, fs::copy_options::overwrite_existing); }, r, io, "header text", hea, "NUL"},
      {"binary garbage header", base::ptbxl, contents(hea, std::string("\x89PNG\r\n\x1a\n\xff\xfe\xfd garbage \x80\x81", 22)), r, io, "number of signals", hea},
      {"record line without signal count", base::ptbxl, replace(hea, "00001_hr 12 500 5000", "00001_hr"), r, io, "number of signals", hea},
      {"signal count not a number", base::ptbxl, token(hea, 0, 1, "twelve"), r, io, "number of signals", hea},
      {"negative signal count", base::ptbxl, token(hea, 0, 1, "-12"), r, io, "number of signals", hea},
      {"fewer signal lines than declared", base::ptbxl, token(hea, 0, 1, "13"), r, io, "number of signals", hea},
      {"more signal lines than declared", base::ptbxl, token(hea, 0, 1, "11"), r, io, "signal line", hea},
      {"zero segments", base::ptbxl, token(hea, 0, 0, "00001_hr/0"), r, io, "number of segments", hea},
      {"sampling frequency 0", base::ptbxl, token(hea, 0, 2, "0"), r, io, "sampling frequency", hea},
      {"negative sampling frequency", base::ptbxl, token(hea, 0, 2, "-500"), r, io, "sampling frequency", hea},
      {"sampling frequency beyond double", base::ptbxl, token(hea, 0, 2, "1e400"), r, io, "sampling frequency", hea},
      {"sampling frequency nan", base::ptbxl, token(hea, 0, 2, "nan"), r, io, "sampling frequency", hea},
      {"counter frequency 0", base::ptbxl, token(hea, 0, 2, "500/0"), r, io, "counter frequency", hea},
      {"1e12 samples with a 120 kB file", base::ptbxl, token(hea, 0, 3, "1000000000000"), r, io, "number of samples", hea},
      {"sample count in float notation", base::ptbxl, token(hea, 0, 3, "5e3"), r, io, "number of samples", hea},
      {"negative sample count", base::ptbxl, token(hea, 0, 3, "-5000"), r, io, "number of samples", hea},
      {"one sample more than stored", base::ptbxl, token(hea, 0, 3, "5001"), r, io, "signal file size", dat},
      // --- signal lines
      {"signal line without format", base::ptbxl, replace(hea, "00001_hr.dat 16 1000.0(0)/mV 16 0 -115 13047 0 I", "00001_hr.dat"), r, io, "format", hea},
      {"unknown format 17", base::ptbxl, replace(hea, " 16 1000.0", " 17 1000.0"), r, io, "format", hea},
      {"FLAC format 516", base::ptbxl, replace(hea, " 16 1000.0", " 516 1000.0"), r, io, "format", hea},
      {"format with a stray suffix", base::ptbxl, replace(hea, " 16 1000.0", " 16q 1000.0"), r, io, "format", hea},
      {"two formats in one signal file", base::ptbxl, token(hea, 2, 1, "32"), r, io, "format", hea},
      {"two byte offsets in one signal file", base::ptbxl, token(hea, 2, 1, "16+2"), r, io, "byte offset", hea},
      {"byte offset past the end of the file", base::ptbxl, replace(hea, " 16 1000.0", " 16+200000 1000.0"), r, io, "byte offset", hea},
      {"zero samples per frame", base::ptbxl, token(hea, 1, 1, "16x0"), r, io, "samples per frame", hea},
      {"skew of two billion frames", base::ptbxl, token(hea, 1, 1, "16:2000000000"), r, io, "skew", hea},
      {"ADC gain 0", base::ptbxl, token(hea, 3, 2, "0(0)/mV"), r, data, "adc_gain", hea},
      {"ADC gain nan", base::ptbxl, token(hea, 3, 2, "nan(0)/mV"), r, io, "adc_gain", hea},
      {"ADC gain beyond double", base::ptbxl, token(hea, 3, 2, "1e999(0)/mV"), r, io, "adc_gain", hea},
      {"ADC gain 1e-300 (physical values overflow)", base::ptbxl, token(hea, 3, 2, "1e-300(0)/mV"), r, data, "adc_gain", hea},
      {"baseline not an integer", base::ptbxl, token(hea, 1, 2, "1000.0(zero)/mV"), r, io, "baseline", hea},
      {"baseline without ')'", base::ptbxl, token(hea, 1, 2, "1000.0(0/mV"), r, io, "baseline", hea},
      {"empty units", base::ptbxl, token(hea, 1, 2, "1000.0(0)/"), r, io, "units", hea},
      {"ADC resolution 64 bits", base::ptbxl, token(hea, 1, 3, "64"), r, io, "adc_resolution", hea},
      {"ADC zero not an integer", base::ptbxl, token(hea, 1, 4, "0.5"), r, io, "adc_zero", hea},
      {"initial value beyond int32", base::ptbxl, token(hea, 1, 5, "99999999999"), r, io, "initial_value", hea},
      {"checksum not a number", base::ptbxl, token(hea, 1, 6, "0x32f7"), r, io, "checksum", hea},
      {"checksum off by one (strict)", base::ptbxl, token(hea, 1, 6, "13048"), reader::record_strict_checksum, data, "checksum", hea},
      {"negative block size", base::ptbxl, token(hea, 1, 7, "-1"), r, io, "block_size", hea},
      // --- signal files
      {"signal file missing", base::ptbxl, remove_file(dat), r, io, "file name", dat},
      {"signal file is a directory", base::ptbxl, all({remove_file(dat), [=](const fs::path& d) { fs::create_directory(d / dat); }}), r, io, "file name", dat, "directory"},
      {"signal file named with ../", base::ptbxl, replace(hea, "00001_hr.dat ", "../00001_hr.dat "), r, io, "file name", hea, "outside"},
      {"signal file named by absolute path", base::ptbxl, [=](const fs::path& d) { replace(hea, "00001_hr.dat ", (d / dat).string() + " ")(d); }, r, io, "file name", hea, "outside"},
      {"signal file truncated by half", base::ptbxl, resize_by(dat, -60000), r, io, "signal file size", dat, "truncated"},
      {"signal file one byte short", base::ptbxl, resize_by(dat, -1), r, io, "signal file size", dat, "truncated"},
      {"signal file empty", base::ptbxl, resize_by(dat, -120000), r, io, "signal file size", dat, "truncated"},
      // --- MATLAB v4 signal files (type, rows, cols, imagf, name length: five int32 at 0, 4, ..., 16)
      {"MAT file missing", base::challenge, remove_file(mat), r, io, "file name", mat},
      {"MAT file of 10 bytes", base::challenge, resize_by(mat, 10 - 180024), r, io, "MAT header", mat},
      {"MAT type code 20 (int32)", base::challenge, patch(mat, 0, le_bytes<std::int32_t>(20)), r, io, "MAT type", mat},
      {"MAT rows 11 for 12 signals", base::challenge, patch(mat, 4, le_bytes<std::int32_t>(11)), r, io, "MAT rows", mat},
      {"MAT cols disagree with the header", base::challenge, patch(mat, 8, le_bytes<std::int32_t>(7000)), r, io, "MAT cols", mat},
      {"MAT cols negative", base::challenge, patch(mat, 8, le_bytes<std::int32_t>(-1)), r, io, "MAT cols", mat},
      {"MAT cols 2^31-1 and no count in the header", base::challenge, all({patch(mat, 8, le_bytes<std::int32_t>(2147483647)), replace(mhea, "A0001 12 500 7500 12-May-2020 12:33:59", "A0001 12 500")}), r, io, "MAT data size", mat},
      {"MAT complex flag", base::challenge, patch(mat, 12, le_bytes<std::int32_t>(1)), r, io, "MAT imagf", mat},
      {"MAT name length 1000000", base::challenge, patch(mat, 16, le_bytes<std::int32_t>(1000000)), r, io, "MAT name length", mat},
      {"MAT data truncated", base::challenge, resize_by(mat, -24), r, io, "MAT data size", mat},
      {"MAT data with trailing bytes", base::challenge, resize_by(mat, 2), r, io, "MAT data size", mat},
      {"MAT data offset wrong in the header", base::challenge, replace(mhea, "16+24", "16+32"), r, io, "byte offset", mat},
      {"MAT signals declared as format 212", base::challenge, replace(mhea, "16+24", "212+24"), r, io, "format", mat},
      // --- multi-segment records
      {"segment header missing", base::multi_segment, remove_file("041s02.hea"), r, io, "segment name", master},
      {"segment named with ../", base::multi_segment, token(master, 1, 0, "../041s01"), r, io, "segment name", master, "outside"},
      {"segment count above the segment lines", base::multi_segment, token(master, 0, 0, "041s/3"), r, io, "number of segments", master},
      {"segment lengths do not add up", base::multi_segment, token(master, 0, 3, "2100"), r, io, "number of samples", master},
      {"segment shorter than listed", base::multi_segment, all({token(master, 0, 3, "1999"), token(master, 2, 1, "999")}), r, io, "segment length", master},
      {"segment is itself multi-segment", base::multi_segment, contents("041s02.hea", "041s02/1 7 125 1000\n041s01 1000\n"), r, io, "record name", "041s02.hea"},
      {"every segment null", base::multi_segment, all({token(master, 1, 0, "~"), token(master, 2, 0, "~")}), r, io, "segments", master},
      {"segment signal file truncated", base::multi_segment, resize_by("041s02.dat", -12000), r, io, "signal file size", "041s02.dat"},

      // --- safetensors structure (checkpoint::load)
      {"empty checkpoint", base::checkpoint, contents(ck, ""), reader::checkpoint, io, "header length", ck},
      {"checkpoint of 5 bytes", base::checkpoint, resize_by(ck, 5 - 592), reader::checkpoint, io, "header length", ck},
      {"record signal file saved as a checkpoint", base::checkpoint, [](const fs::path& d) { fs::copy_file(fs::path(ECGSSL_TEST_DATA_DIR) / "records/ptbxl/00001_hr.dat", d / checkpoint_file, fs::copy_options::overwrite_existing); }, reader::checkpoint, io, "header length", ck},
      {"header length beyond the file", base::checkpoint, patch(ck, 0, le_bytes<std::uint64_t>(10000)), reader::checkpoint, io, "header length", ck, "past the end"},
      {"header length 2^63", base::checkpoint, patch(ck, 0, le_bytes<std::uint64_t>(std::uint64_t{1} << 63)), reader::checkpoint, io, "header length", ck, "too large"},
      {"header length 0", base::checkpoint, patch(ck, 0, le_bytes<std::uint64_t>(0)), reader::checkpoint, io, "header", ck},
      {"header is a JSON array", base::checkpoint, header_text([](std::string& h) { h = "[1, 2, 3]"; }), reader::checkpoint, io, "header", ck},
      {"header JSON cut short", base::checkpoint, header_text([](std::string& h) { h.resize(100); }), reader::checkpoint, io, "header", ck, "invalid JSON"},
      {"header with text after the JSON", base::checkpoint, header_text([](std::string& h) { h += "garbage"; }), reader::checkpoint, io, "header", ck, "invalid JSON"},
      {"header name not UTF-8", base::checkpoint, header_text([](std::string& h) { REQUIRE(contains(h, "\"w\":")); h.replace(h.find("\"w\":"), 4, "\"\xff\":"); }), reader::checkpoint, io, "header", ck, "invalid JSON"},
      {"header lists no tensors", base::checkpoint, header_text([](std::string& h) { h = "{}"; }), reader::checkpoint, io, "data_offsets", ck},
      {"tensor name twice", base::checkpoint, header_text([](std::string& h) { h.replace(h.find("\"optimizer.exp_avg.w\":"), 22, "\"w\":"); }), reader::checkpoint, io, "w", ck, "twice"},
      {"__metadata__ not an object", base::checkpoint, header_json([](auto& h) { h["__metadata__"] = "ecgssl"; }), reader::checkpoint, io, "__metadata__", ck},
      {"metadata value not a string", base::checkpoint, header_json([](auto& h) { h["__metadata__"]["ecgssl.config"] = nlohmann::ordered_json{{"dim", 4}}; }), reader::checkpoint, io, "__metadata__.ecgssl.config", ck},
      {"tensor entry not an object", base::checkpoint, header_json([](auto& h) { h["w"] = nlohmann::ordered_json::array({1, 2}); }), reader::checkpoint, io, "w", ck},
      {"unknown dtype F8_E4M3", base::checkpoint, header_json([](auto& h) { h["w"]["dtype"] = "F8_E4M3"; }), reader::checkpoint, io, "w.dtype", ck, "F8_E4M3"},
      {"dtype missing", base::checkpoint, header_json([](auto& h) { h["w"].erase("dtype"); }), reader::checkpoint, io, "w.dtype", ck},
      {"dtype a number", base::checkpoint, header_json([](auto& h) { h["w"]["dtype"] = 32; }), reader::checkpoint, io, "w.dtype", ck},
      {"lowercase dtype", base::checkpoint, header_json([](auto& h) { h["w"]["dtype"] = "f32"; }), reader::checkpoint, io, "w.dtype", ck},
      {"shape not an array", base::checkpoint, header_json([](auto& h) { h["w"]["shape"] = 6; }), reader::checkpoint, io, "w.shape", ck},
      {"negative extent", base::checkpoint, header_json([](auto& h) { h["w"]["shape"] = {-2, -3}; }), reader::checkpoint, io, "w.shape", ck},
      {"fractional extent", base::checkpoint, header_json([](auto& h) { h["w"]["shape"] = {2.5, 2.4}; }), reader::checkpoint, io, "w.shape", ck},
      {"shape larger than its bytes", base::checkpoint, header_json([](auto& h) { h["w"]["shape"] = {2, 4}; }), reader::checkpoint, io, "w.shape", ck},
      {"shape whose product overflows", base::checkpoint, header_json([](auto& h) { h["w"]["shape"] = {std::uint64_t{1} << 32, std::uint64_t{1} << 32, 6}; }), reader::checkpoint, io, "w.shape", ck},
      {"data_offsets missing", base::checkpoint, header_json([](auto& h) { h["w"].erase("data_offsets"); }), reader::checkpoint, io, "w.data_offsets", ck},
      {"data_offsets of one number", base::checkpoint, header_json([](auto& h) { h["w"]["data_offsets"] = nlohmann::ordered_json::array({56}); }), reader::checkpoint, io, "w.data_offsets", ck},
      {"data_offsets negative", base::checkpoint, header_json([](auto& h) { h["w"]["data_offsets"] = {-24, 0}; }), reader::checkpoint, io, "w.data_offsets", ck},
      {"data_offsets begin after end", base::checkpoint, header_json([](auto& h) { h["w"]["data_offsets"] = {80, 56}; }), reader::checkpoint, io, "w.data_offsets", ck},
      {"data_offsets beyond the data", base::checkpoint, header_json([](auto& h) { h["w"]["data_offsets"] = {60, 84}; }), reader::checkpoint, io, "w.data_offsets", ck},
      {"data_offsets near 2^64", base::checkpoint, header_json([](auto& h) { h["w"]["data_offsets"] = {~std::uint64_t{0} - 24, ~std::uint64_t{0}}; }), reader::checkpoint, io, "w.data_offsets", ck},
      {"overlapping tensors", base::checkpoint, header_json([](auto& h) { h["w"]["data_offsets"] = {52, 76}; }), reader::checkpoint, io, "w.data_offsets", ck, "overlap"},
      {"bytes that belong to no tensor", base::checkpoint, header_json([](auto& h) { h.erase("b"); }), reader::checkpoint, io, "optimizer.exp_avg.b.data_offsets", ck},
      {"trailing bytes after the last tensor", base::checkpoint, [=](const fs::path& d) { std::ofstream(d / ck, std::ios::binary | std::ios::app) << "tail"; }, reader::checkpoint, io, "data_offsets", ck},
      {"data section truncated", base::checkpoint, resize_by(ck, -4), reader::checkpoint, io, "w.data_offsets", ck, "truncated"},
      // --- parameters (load_parameters into the b [2], w [2,3] store)
      {"NaN weight", base::checkpoint, f32_value("w", 4, std::numeric_limits<float>::quiet_NaN()), reader::parameters, data, "w[4]", ck, "NaN"},
      {"infinite bias", base::checkpoint, f32_value("b", 1, -std::numeric_limits<float>::infinity()), reader::parameters, data, "b[1]", ck, "infinite"},
      {"weight tensor missing", base::checkpoint, header_json([](auto& h) { h["w_old"] = h["w"]; h.erase("w"); }), reader::parameters, io, "tensor names", ck, "missing from the file: w"},
      {"tensor the model lacks", base::checkpoint, header_json([](auto& h) { h["encoder.extra"] = h["trainer.seed"]; h.erase("trainer.seed"); }), reader::parameters, io, "tensor names", ck, "unexpected in the file: encoder.extra"},
      {"weight transposed", base::checkpoint, header_json([](auto& h) { h["w"]["shape"] = {3, 2}; }), reader::parameters, io, "tensor names", ck, "w [3, 2] (model [2, 3])"},
      {"weights stored as integers", base::checkpoint, header_json([](auto& h) { h["w"]["dtype"] = "I32"; }), reader::parameters, io, "tensor names", ck, "non-floating dtype: w I32"},
      // --- trainer state
      {"trainer.step missing", base::checkpoint, header_json([](auto& h) { h["trainer.count"] = h["trainer.step"]; h.erase("trainer.step"); }), reader::trainer_step, io, "trainer.step", ck},
      {"trainer.step stored as F64", base::checkpoint, header_json([](auto& h) { h["trainer.step"]["dtype"] = "F64"; }), reader::trainer_step, io, "trainer.step.dtype", ck},
      {"trainer.step of two elements", base::checkpoint, header_json([](auto& h) { h["trainer.step"]["dtype"] = "I32"; h["trainer.step"]["shape"] = nlohmann::ordered_json::array({2}); }), reader::trainer_step, io, "trainer.step.shape", ck},
      // --- model configuration ("ecgssl.config" read by pretrained_encoder_options)
      {"no configuration", base::configured, header_json([](auto& h) { h.erase("__metadata__"); }), reader::encoder_options, config, "ecgssl.config", ck},
      {"configuration not JSON", base::configured, header_json([](auto& h) { h["__metadata__"]["ecgssl.config"] = "{\"layers\": 2,"; }), reader::encoder_options, config, "ecgssl.config", ck},
      {"configuration number beyond double", base::configured, header_json([](auto& h) { h["__metadata__"]["ecgssl.config"] = "{\"layers\": 1e999}"; }), reader::encoder_options, config, "ecgssl.config", ck},
      {"1e8 layers", base::configured, config_json([](auto& c) { c["layers"] = 100000000; }), reader::encoder_options, config, "layers", ck},
      {"layers as a string", base::configured, config_json([](auto& c) { c["layers"] = "2"; }), reader::encoder_options, config, "layers", ck},
      {"negative layers", base::configured, config_json([](auto& c) { c["layers"] = -2; }), reader::encoder_options, config, "layers", ck},
      {"fractional layers", base::configured, config_json([](auto& c) { c["layers"] = 2.5; }), reader::encoder_options, config, "layers", ck},
      {"layers 1e300", base::configured, config_json([](auto& c) { c["layers"] = 1e300; }), reader::encoder_options, config, "layers", ck},
      {"dimension 1e6", base::configured, config_json([](auto& c) { c["dim"] = 1000000; }), reader::encoder_options, config, "embed_dim", ck},
      {"ffn 1e9", base::configured, config_json([](auto& c) { c["ffn"] = 1000000000; }), reader::encoder_options, config, "ffn_dim", ck},
      {"no conv channels", base::configured, config_json([](auto& c) { c["conv_channels"] = 0; }), reader::encoder_options, config, "conv_dim", ck},
      {"zero heads", base::configured, config_json([](auto& c) { c["heads"] = 0; }), reader::encoder_options, config, "heads", ck},
      {"heads not dividing the dimension", base::configured, config_json([](auto& c) { c["heads"] = 7; }), reader::encoder_options, config, "heads", ck},
      {"required key missing", base::configured, config_json([](auto& c) { c.erase("heads"); }), reader::encoder_options, config, "heads", ck, "missing heads"},
      {"zero latent groups", base::configured, config_json([](auto& c) { c["latent_groups"] = 0; }), reader::encoder_options, config, "latent_groups", ck},
      {"unknown extractor mode", base::configured, config_json([](auto& c) { c["extractor_mode"] = "batch_norm"; }), reader::encoder_options, config, "extractor_mode", ck},
      {"extractor mode a number", base::configured, config_json([](auto& c) { c["extractor_mode"] = 1; }), reader::encoder_options, config, "extractor_mode", ck},
      {"model too large for this machine", base::configured, config_json([](auto& c) { c["dim"] = 8192; c["ffn"] = 65536; c["layers"] = 256; c["heads"] = 8; }), reader::encoder_options, config, "model size", ck},
      {"both configuration forms", base::configured, config_json([](auto& c) { c["model"] = nlohmann::json{{"layers", 2}}; }), reader::encoder_options, config, "model", ck},
      {"encoder options not an object", base::configured, config_json([](auto& c) { c["encoder"] = "tiny"; }), reader::encoder_options, config, "encoder", ck},
      {"contract key repeated under encoder", base::configured, config_json([](auto& c) { c["encoder"]["embed_dim"] = 64; }), reader::encoder_options, config, "encoder.embed_dim", ck},
      {"unknown encoder option", base::configured, config_json([](auto& c) { c["encoder"]["hidden_size"] = 768; }), reader::encoder_options, config, "hidden_size", ck, "unknown key"},
      {"dropout as a string", base::configured, config_json([](auto& c) { c["encoder"]["dropout"] = "0.1"; }), reader::encoder_options, config, "dropout", ck},
      {"flag as a number", base::configured, config_json([](auto& c) { c["encoder"]["layer_norm_first"] = 1; }), reader::encoder_options, config, "layer_norm_first", ck},
      {"position groups not dividing the dimension", base::configured, config_json([](auto& c) { c["encoder"]["pos_groups"] = 7; }), reader::encoder_options, config, "pos_groups", ck},
      {"unknown mode under encoder", base::configured, config_json([](auto& c) { c["encoder"]["mode"] = "x"; }), reader::encoder_options, config, "encoder.mode", ck},
      {"1e8 layers in the 0.1 form", base::configured, header_json([](auto& h) { h["__metadata__"]["ecgssl.config"] = R"({"model": {"base": "tiny", "layers": 100000000}})"; }), reader::encoder_options, config, "layers", ck},
  };
  // One signal file of each WFDB format, one byte short of the 499 samples the header declares.
  const std::pair<int, int> formats[] = {{0, 8}, {1, 16}, {2, 61}, {3, 80}, {4, 160}, {5, 212}, {6, 310}, {7, 311}, {8, 24}, {9, 32}};
  for (const auto& [d, format] : formats) {
    const std::string file = "binformats.d" + std::to_string(d);
    t.push_back({"format " + std::to_string(format) + " signal file one byte short", base::formats, resize_by(file, -1), r, io,
                 "signal file size", file, "format " + std::to_string(format)});
  }
  return t;
}

bool is_record(base b) { return b == base::ptbxl || b == base::challenge || b == base::formats || b == base::multi_segment; }

fs::path fresh_dir(const std::string& name) {
  std::string safe;
  for (char c : name) safe += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  const fs::path dir = fs::temp_directory_path() / ("ecgssl_corrupted_" + std::to_string(::getpid())) / safe;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("the table covers records and checkpoints, each case under its own name") {
  const auto table = corruptions();
  std::set<std::string> names;
  std::size_t records = 0;
  for (const auto& c : table) {
    CHECK_MESSAGE(names.insert(c.name).second, "case named twice: " << c.name);
    records += is_record(c.from);
  }
  CHECK(table.size() >= 60);
  CHECK(records >= 30);
  CHECK(table.size() - records >= 30);
}

TEST_CASE("the uncorrupted inputs read without error") {
  // Otherwise a case could pass because its good file was already refused.
  const std::pair<base, std::vector<reader>> uses[] = {
      {base::ptbxl, {reader::record, reader::record_strict_checksum}},
      {base::challenge, {reader::record, reader::record_strict_checksum}},
      {base::formats, {reader::record, reader::record_strict_checksum}},
      {base::multi_segment, {reader::record}},
      {base::checkpoint, {reader::checkpoint, reader::parameters, reader::trainer_step}},
      {base::configured, {reader::checkpoint, reader::parameters, reader::encoder_options}},
  };
  for (const auto& [b, readers] : uses) {
    const fs::path dir = fresh_dir("good_" + std::to_string(static_cast<int>(b)));
    const fs::path target = prepare(b, dir);
    for (const auto read : readers) {
      CAPTURE(target);
      CAPTURE(static_cast<int>(read));
      CHECK_NOTHROW(call(read, target));
    }
  }
}

TEST_CASE("corrupted records and checkpoints are refused with the error class and the field at fault") {
  for (const auto& c : corruptions()) {
    SUBCASE(c.name.c_str()) {
      const fs::path dir = fresh_dir(c.name);
      const fs::path target = prepare(c.from, dir);
      c.corrupt(dir);
      try {
        call(c.read, target);
        FAIL_CHECK("accepted without an error");
      } catch (const ecgssl::error& e) {
        const std::string message = e.what();
        CAPTURE(message);
        CHECK(class_name(e) == class_name(c.expected));
        CHECK(e.where().field == c.field);
        CHECK(contains(message, "field '" + c.field + "'"));
        // The corrupted copy is named, not some other file (where().file is a path in `dir`).
        CHECK(e.where().file.rfind(dir.string(), 0) == 0);
        CHECK(contains(message, c.file));
        if (!c.detail.empty()) CHECK(contains(message, c.detail));
      } catch (const std::exception& e) {
        FAIL_CHECK("threw " << typeid(e).name() << " instead of an ecgssl::error: " << e.what());
      }
    }
  }
}

TEST_CASE("a lead named twice or not in UTF-8 makes the record a manifest skip, not an error") {
  // read_record returns lead names as written; the manifest is where they must be unambiguous.
  const std::pair<edit, std::string> cases[] = {
      {token("00001_hr.hea", 2, 8, "I"), "lead I is named twice (signals 1 'I' and 2 'I')"},
      {token("00001_hr.hea", 1, 8, "\xff\xfeI"), "the name of signal 1 is not UTF-8 text"},
  };
  for (const auto& [corrupt, reason] : cases) {
    const fs::path dir = fresh_dir("lead_names");
    const fs::path target = prepare(base::ptbxl, dir);
    corrupt(dir);
    CHECK_NOTHROW((void)ecgssl::io::read_record(target.string()));
    CHECK(ecgssl::io::read_manifest_entry(dir / "00001_hr.hea").skip_reason == reason);
  }
}

// Issue 19, "odd files": every reader of an input file reads regular files only, and says what it
// found instead (a FIFO used to hang `inspect`; a directory failed with a bare bad_alloc; a
// symbolic link to /dev/zero read as an empty file). A header's signal files and segment headers
// stay inside its folder unless wfdb_read_options::allow_files_outside_folder is set.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ecgssl/core/error.hpp>
#include <ecgssl/io/challenge_output.hpp>
#include <ecgssl/io/manifest.hpp>
#include <ecgssl/io/safetensors.hpp>
#include <ecgssl/io/wfdb_header.hpp>
#include <ecgssl/io/wfdb_record.hpp>
#include <ecgssl/model/encoder_config.hpp>

namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("ecgssl_test_odd_files_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

/// A one-lead format-16 record `rec` with 4 samples whose signal file is `signal_name`.
void write_record(const fs::path& dir, const std::string& signal_name) {
  write_text(dir / "rec.hea", "rec 1 500 4\n" + signal_name + " 16 200 16 0 0 0 0 I\n");
}

void write_samples(const fs::path& p) {
  const std::int16_t samples[4] = {1, -2, 3, -4};
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(samples), sizeof samples);
}

template <class F>
std::string io_error_text(F&& f) {
  try {
    f();
  } catch (const ecgssl::io_error& e) {
    return e.what();
  }
  return "(no io_error)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a regular record reads (the baseline the odd cases differ from)") {
  const auto dir = fresh_dir("regular");
  write_record(dir, "rec.dat");
  write_samples(dir / "rec.dat");
  const auto r = ecgssl::io::read_record((dir / "rec").string());
  CHECK(r.n_samples == 4);
}

TEST_CASE("a FIFO as header or signal file is refused at once, naming it a FIFO") {
  const auto dir = fresh_dir("fifo");
  REQUIRE(::mkfifo((dir / "rec.hea").c_str(), 0600) == 0);
  const auto header = io_error_text([&] { (void)ecgssl::io::read_wfdb_header((dir / "rec.hea").string()); });
  CHECK(contains(header, "FIFO"));
  CHECK(contains(header, "rec.hea"));
  fs::remove(dir / "rec.hea");
  write_record(dir, "rec.dat");
  REQUIRE(::mkfifo((dir / "rec.dat").c_str(), 0600) == 0);
  const auto signal = io_error_text([&] { (void)ecgssl::io::read_record((dir / "rec").string()); });
  CHECK(contains(signal, "FIFO"));
  CHECK(contains(signal, "file name"));  // the header field that named it
  CHECK(contains(signal, "rec.hea"));
}

TEST_CASE("a directory as header, signal, checkpoint, manifest, output or configuration file is refused") {
  const auto dir = fresh_dir("directory");
  fs::create_directories(dir / "rec.dat");
  write_record(dir, "rec.dat");
  CHECK(contains(io_error_text([&] { (void)ecgssl::io::read_record((dir / "rec").string()); }), "a directory"));
  fs::create_directories(dir / "d.hea");
  CHECK(contains(io_error_text([&] { (void)ecgssl::io::read_wfdb_header((dir / "d.hea").string()); }), "a directory"));
  fs::create_directories(dir / "ck.safetensors");
  CHECK(contains(io_error_text([&] { (void)ecgssl::io::safetensors::load(dir / "ck.safetensors"); }), "a directory"));
  fs::create_directories(dir / "m.csv");
  CHECK(contains(io_error_text([&] { (void)ecgssl::io::manifest::load(dir / "m.csv"); }), "a directory"));
  fs::create_directories(dir / "A0001.csv");
  CHECK(contains(io_error_text([&] { (void)ecgssl::io::challenge_output::load(dir / "A0001.csv"); }), "a directory"));
  fs::create_directories(dir / "c.json");
  CHECK(contains(io_error_text([&] { (void)ecgssl::model::encoder_config::resolve((dir / "c.json").string()); }),
                 "a directory"));
}

TEST_CASE("a symbolic link to a device is followed and refused as a character device") {
  const auto dir = fresh_dir("device");
  write_record(dir, "rec.dat");
  fs::create_symlink("/dev/zero", dir / "rec.dat");
  CHECK(contains(io_error_text([&] { (void)ecgssl::io::read_record((dir / "rec").string()); }), "character device"));
  fs::create_symlink("/dev/null", dir / "null.safetensors");
  CHECK(contains(io_error_text([&] { (void)ecgssl::io::safetensors::load(dir / "null.safetensors"); }),
                 "character device"));
}

TEST_CASE("a symbolic link to a regular file reads as that file") {
  const auto dir = fresh_dir("link");
  write_record(dir, "rec.dat");
  write_samples(dir / "target.bin");
  fs::create_symlink("target.bin", dir / "rec.dat");
  CHECK(ecgssl::io::read_record((dir / "rec").string()).n_samples == 4);
}

TEST_CASE("signal file names that leave the header's folder are refused unless allowed") {
  const auto root = fresh_dir("outside");
  const auto dir = root / "records";
  fs::create_directories(dir / "sub");  // the kernel resolves sub/.. only through an existing sub
  write_samples(root / "elsewhere.dat");
  const std::vector<std::string> outside{"../elsewhere.dat", (root / "elsewhere.dat").string(), "sub/../../elsewhere.dat"};
  for (const auto& name : outside) {
    INFO(name);
    write_record(dir, name);
    const auto text = io_error_text([&] { (void)ecgssl::io::read_record((dir / "rec").string()); });
    CHECK(contains(text, "outside the header's folder"));
    CHECK(contains(text, "file name"));
    ecgssl::io::wfdb_read_options allowed;
    allowed.allow_files_outside_folder = true;
    CHECK(ecgssl::io::read_record((dir / "rec").string(), allowed).n_samples == 4);
  }
  // inside the folder, a subfolder is fine
  write_samples(dir / "sub" / "inner.dat");
  write_record(dir, "sub/inner.dat");
  CHECK(ecgssl::io::read_record((dir / "rec").string()).n_samples == 4);
}

TEST_CASE("a multi-segment header's segment names stay inside its folder") {
  const auto dir = fresh_dir("multi");
  write_text(dir / "multi.hea", "multi/2 1 500 8\n../seg1 4\nseg2 4\n");
  const auto text = io_error_text([&] { (void)ecgssl::io::read_record((dir / "multi").string()); });
  CHECK(contains(text, "outside the header's folder"));
  CHECK(contains(text, "segment name"));
}

TEST_CASE("a configuration name that is neither a preset nor a file says both") {
  const auto text = io_error_text([] { (void)ecgssl::model::encoder_config::resolve("/no/such/config.json"); });
  CHECK(contains(text, "no such configuration"));
  CHECK(contains(text, "tiny, small, base"));
}

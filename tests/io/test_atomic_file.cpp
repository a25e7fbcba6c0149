#include <ecgssl/io/atomic_file.hpp>
#include <ecgssl/io/checkpoint.hpp>

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace fs = std::filesystem;
using ecgssl::io_error;
using ecgssl::io::atomic_file;

namespace {

// A fresh directory under the system temp dir, removed at scope exit.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "ecgssl_atomic_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
};

std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span<const char>(s.data(), s.size())); }

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::size_t entries_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

ecgssl::io::checkpoint big_checkpoint(float value) {
  ecgssl::io::checkpoint ckpt;
  const std::vector<float> v(64 * 1024, value);
  ckpt.add_tensor<float>("w", {v.size()}, v);
  return ckpt;
}

}  // namespace

TEST_CASE("atomic_file writes, replaces and leaves no temporary behind") {
  temp_dir dir;
  const fs::path target = dir.path / "model.safetensors";
  atomic_file::write_file(target, as_bytes("first"));
  CHECK(read_text(target) == "first");
  atomic_file::write_file(target, as_bytes("second version"));
  CHECK(read_text(target) == "second version");
  CHECK(entries_in(dir.path) == 1);

  {
    atomic_file abandoned(target);
    CHECK(fs::exists(abandoned.temporary_path()));
    CHECK(abandoned.temporary_path().parent_path() == dir.path);
    abandoned.write(as_bytes("never published"));
  }  // destroyed without commit
  CHECK(read_text(target) == "second version");
  CHECK(entries_in(dir.path) == 1);
}

TEST_CASE("atomic_file fails with io_error for a missing or unwritable directory") {
  CHECK_THROWS_AS(atomic_file::write_file("/nonexistent/ecgssl/model.safetensors", as_bytes("x")), io_error);

  temp_dir dir;
  const fs::path target = dir.path / "model.safetensors";
  big_checkpoint(1.0f).save(target);
  fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
  const bool can_still_write = ::access(dir.path.c_str(), W_OK) == 0;  // root ignores permissions
  if (!can_still_write) {
    try {
      big_checkpoint(2.0f).save(target);
      FAIL("expected io_error");
    } catch (const io_error& e) {
      CHECK(std::string(e.what()).find(target.string()) != std::string::npos);
    }
    fs::permissions(dir.path, fs::perms::owner_all, fs::perm_options::add);
    CHECK(ecgssl::io::checkpoint::load(target).file().values<float>("w")[0] == 1.0f);
  } else {
    // Running as root: a directory of a read-only pseudo file system refuses new files.
    fs::permissions(dir.path, fs::perms::owner_all, fs::perm_options::add);
    CHECK_THROWS_AS(big_checkpoint(2.0f).save("/proc/ecgssl_checkpoint.safetensors"), io_error);
  }
}

TEST_CASE("a write to a full device throws io_error") {
  const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;  // no /dev/full on this system: the file-size-limit case below covers it
  const std::vector<std::byte> bytes(4096);
  CHECK_THROWS_AS(ecgssl::io::detail::write_all(fd, bytes, "/dev/full"), io_error);
  ::close(fd);
}

TEST_CASE("a checkpoint write that runs out of space leaves the previous checkpoint intact") {
  temp_dir dir;
  const fs::path target = dir.path / "model.safetensors";
  big_checkpoint(1.0f).save(target);
  const std::string before = read_text(target);

  // Simulate a full disk: a file-size limit makes write() fail with EFBIG past 16 KiB.
  rlimit old_limit{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 16 * 1024;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  bool threw = false;
  try {
    big_checkpoint(2.0f).save(target);
  } catch (const io_error& e) {
    threw = true;
    CHECK(std::string(e.what()).find("write failed") != std::string::npos);
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);

  CHECK(threw);
  CHECK(read_text(target) == before);
  CHECK(entries_in(dir.path) == 1);  // the temporary was removed
  CHECK(ecgssl::io::checkpoint::load(target).file().values<float>("w")[0] == 1.0f);
}

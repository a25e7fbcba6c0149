#pragma once
/// \file atomic_file.hpp
/// Crash-safe file replacement for checkpoints: the bytes go to a temporary file in the target's
/// directory, are flushed to disk (fsync), and the temporary is renamed over the target. A reader
/// therefore sees either the previous file or the complete new one, never a torn write, and a
/// failed write (no permission, disk full) leaves the previous file untouched.
///
/// POSIX only (open/write/fsync/rename); rename(2) is atomic within one file system, which is why
/// the temporary lives in the same directory as the target.

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/error.hpp"

namespace ecgssl::io {

namespace detail {

[[nodiscard]] inline std::string errno_text(int code) { return std::strerror(code); }

/// Writes every byte to `fd`, retrying short writes and EINTR. Throws io_error naming `path`
/// and the byte offset reached (ENOSPC on a full disk, EFBIG past a file-size limit...).
inline void write_all(int fd, std::span<const std::byte> bytes, const std::string& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int code = errno;
      error_location where = in_file(path);
      where.byte_offset = static_cast<std::int64_t>(done);
      throw io_error(where, "write failed: " + errno_text(code),
                     std::to_string(bytes.size()) + " bytes written (free disk space and write permission)");
    }
    if (n == 0) {
      error_location where = in_file(path);
      where.byte_offset = static_cast<std::int64_t>(done);
      throw io_error(where, "write made no progress", std::to_string(bytes.size()) + " bytes written");
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace detail

/// A file being written under a temporary name, published by `commit()` (write, fsync, rename,
/// fsync of the directory). Destroying it without a successful commit removes the temporary.
class atomic_file {
 public:
  /// Creates the temporary `<dir>/.<name>.tmp-<pid>-<n>` next to `target`; throws io_error when
  /// the directory is missing or not writable.
  explicit atomic_file(std::filesystem::path target) : target_(std::move(target)) {
    const std::filesystem::path directory =
        target_.has_parent_path() ? target_.parent_path() : std::filesystem::path(".");
    const std::string base = "." + target_.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-";
    for (unsigned attempt = 0; attempt < 1000; ++attempt) {
      std::filesystem::path candidate = directory / (base + std::to_string(next_serial()));
      // 0666 so the umask decides the final permissions, as for any newly created file.
      const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd >= 0) {
        fd_ = fd;
        temporary_ = std::move(candidate);
        return;
      }
      if (errno == EEXIST) continue;
      const int code = errno;
      throw io_error(in_file(target_.string()),
                     "cannot create a temporary file in '" + directory.string() + "': " + detail::errno_text(code),
                     "an existing directory this process may write to");
    }
    throw io_error(in_file(target_.string()), "no free temporary file name in '" + directory.string() + "'",
                   "stale '" + base + "*' files removed");
  }

  atomic_file(const atomic_file&) = delete;
  atomic_file& operator=(const atomic_file&) = delete;
  atomic_file(atomic_file&&) = delete;
  atomic_file& operator=(atomic_file&&) = delete;

  ~atomic_file() { discard(); }

  /// Appends bytes to the temporary file.
  void write(std::span<const std::byte> bytes) {
    require_open();
    try {
      detail::write_all(fd_, bytes, temporary_.string());
    } catch (...) {
      discard();
      throw;
    }
  }

  /// Flushes the temporary to disk and renames it over the target. After a failure the target
  /// is unchanged and the temporary removed.
  void commit() {
    require_open();
    if (::fsync(fd_) != 0) fail("fsync of the temporary file failed", errno);
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) fail("close of the temporary file failed", errno);
    if (::rename(temporary_.c_str(), target_.c_str()) != 0) fail("rename over the target failed", errno);
    temporary_.clear();
    // Make the new directory entry durable too; failure here cannot un-publish the file, and
    // some file systems refuse fsync on directories, so it is best effort.
    const std::filesystem::path directory =
        target_.has_parent_path() ? target_.parent_path() : std::filesystem::path(".");
    const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      (void)::fsync(dir_fd);
      ::close(dir_fd);
    }
  }

  /// The temporary's path (empty once committed or discarded).
  [[nodiscard]] const std::filesystem::path& temporary_path() const { return temporary_; }
  [[nodiscard]] const std::filesystem::path& target_path() const { return target_; }

  /// Writes `bytes` to `target` atomically in one call.
  static void write_file(const std::filesystem::path& target, std::span<const std::byte> bytes) {
    atomic_file file(target);
    file.write(bytes);
    file.commit();
  }

 private:
  static unsigned next_serial() {
    static std::atomic<unsigned> serial{0};  // names need only differ within a process; O_EXCL does the rest
    return serial.fetch_add(1, std::memory_order_relaxed);
  }

  void require_open() const {
    if (fd_ < 0) {
      throw io_error(in_file(target_.string()), "atomic_file used after commit or failure",
                     "a fresh atomic_file per write");
    }
  }

  [[noreturn]] void fail(const std::string& what, int code) {
    discard();
    throw io_error(in_file(target_.string()), what + ": " + detail::errno_text(code),
                   "a writable file system with free space; the previous file is unchanged");
  }

  void discard() noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (!temporary_.empty()) {
      ::unlink(temporary_.c_str());
      temporary_.clear();
    }
  }

  std::filesystem::path target_;
  std::filesystem::path temporary_;
  int fd_ = -1;
};

}  // namespace ecgssl::io

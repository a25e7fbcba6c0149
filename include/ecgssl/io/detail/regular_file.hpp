#pragma once
/// \file regular_file.hpp
/// Reading an input file whole, and only if it is a regular file: a FIFO would block a reader
/// for ever, a directory or /dev/zero has no meaningful size, and a device node is never data.
/// The file is opened without blocking (O_NONBLOCK), then fstat decides on the very file that
/// was opened (no race between a check and the open), and the size the file system reports is
/// checked against the caller's limit before anything is allocated.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "../../core/error.hpp"

namespace ecgssl::io::detail {

/// What kind of file `mode` describes, in words, for error messages.
inline const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISREG(mode)) return "a regular file";
  return "not a regular file";
}

/// Reads the regular file at `path` (symbolic links followed) into `bytes`. Throws io_error at
/// `where` (which names the file, or the header field that named it), saying what was found
/// instead of a regular file, or that the file is larger than `max_bytes` (`what` names what
/// the file should be, e.g. "a WFDB signal file"), or that it could not be opened or read.
template <class Byte>
void read_regular_file(const std::string& path, std::vector<Byte>& bytes, const error_location& where,
                       const std::string& what, std::size_t max_bytes) {
  static_assert(sizeof(Byte) == 1);
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    throw io_error(where, "cannot open " + path + ": " + std::strerror(e), what);
  }
  struct guard {
    int fd;
    ~guard() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw io_error(where, "cannot stat " + path, what);
  if (!S_ISREG(st.st_mode)) throw io_error(where, path + " is " + file_kind(st.st_mode), what + " (a regular file)");
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size > max_bytes) {
    throw io_error(where, path + " has " + std::to_string(size) + " bytes",
                   what + " of at most " + std::to_string(max_bytes) + " bytes");
  }
  bytes.resize(size);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, bytes.data() + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int e = errno;
      throw io_error(where, "read error in " + path + ": " + std::strerror(e), what);
    }
    if (got == 0) break;  // the file shrank while it was read
    done += static_cast<std::size_t>(got);
  }
  if (done != size) {
    throw io_error(where, path + " changed size while it was read (" + std::to_string(done) + " of " +
                              std::to_string(size) + " bytes)", what);
  }
}

/// As read_regular_file, into a string (text formats).
inline std::string read_regular_text_file(const std::string& path, const error_location& where, const std::string& what,
                                          std::size_t max_bytes) {
  std::vector<char> bytes;
  read_regular_file(path, bytes, where, what, max_bytes);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace ecgssl::io::detail

#pragma once
/// \file output_target.hpp
/// Output files of the command, checked before any work starts (issue 19): a run that can only
/// fail at its final save is refused at once, and two runs writing the same file do not both
/// "succeed" with the last one winning.
///
/// - The target must be a regular file or not exist yet (`--out /dev/full` run as root used to
///   replace the device node with a regular file), and its folder must exist and be writable.
/// - `output_lock` takes an advisory lock (flock on `.<name>.lock` next to the target) for the
///   whole run; a second writer gets an error naming the file. The lock file is removed when the
///   run ends.
/// - Temporary files of an earlier run of the same target that was killed during a save
///   (`.<name>.tmp-<pid>-<n>`, io/atomic_file.hpp) are removed when their process is gone.

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include <ecgssl/core/error.hpp>
#include <ecgssl/io/detail/regular_file.hpp>

namespace ecgssl::cli::detail {

inline std::filesystem::path folder_of(const std::filesystem::path& target) {
  return target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
}

/// Refuses, naming `option`, a target that exists but is not a regular file, and a folder that
/// is missing, not a folder, or not writable by this process.
inline void check_output_file(const std::filesystem::path& target, const std::string& option) {
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    throw config_error(in_file(target.string(), option), "it is " + std::string(io::detail::file_kind(st.st_mode)),
                       "a regular file or a new file name");
  }
  const auto folder = folder_of(target);
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw io_error(in_file(target.string(), option), "the folder '" + folder.string() + "' does not exist",
                   "an existing folder (create it first)");
  }
  if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    throw io_error(in_file(target.string(), option), "the folder '" + folder.string() + "' is not writable: " + std::strerror(errno),
                   "a folder this process may write to");
  }
}

/// Removes temporaries `.<name>.tmp-<pid>-<n>` of `target` left by processes that no longer run.
inline void remove_stale_temporaries(const std::filesystem::path& target) {
  const std::string prefix = "." + target.filename().string() + ".tmp-";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder_of(target), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0 || rest.find_first_not_of("0123456789-") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
    if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove(entry.path(), ec);
  }
}

/// An exclusive advisory lock on the output `target` for the life of the object.
class output_lock {
 public:
  output_lock(const std::filesystem::path& target, const std::string& option)
      : path_(folder_of(target) / ("." + target.filename().string() + ".lock")) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      throw io_error(in_file(target.string(), option), "cannot create the lock file '" + path_.string() + "': " + std::strerror(errno),
                     "a folder this process may write to");
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw io_error(in_file(target.string(), option), "another process is writing it (it holds " + path_.string() + ")",
                     "one writer per output file: wait for the other run, or choose another --out");
    }
    remove_stale_temporaries(target);  // only the lock holder may decide a temporary is stale
  }
  output_lock(const output_lock&) = delete;
  output_lock& operator=(const output_lock&) = delete;
  ~output_lock() {
    if (fd_ < 0) return;
    std::error_code ec;
    std::filesystem::remove(path_, ec);  // while still locked, so no second writer holds this inode
    ::close(fd_);
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

/// check_output_file, stale temporaries removed, and the lock, for the main output of a run.
inline output_lock claim_output(const std::filesystem::path& target, const std::string& option) {
  check_output_file(target, option);
  return output_lock(target, option);
}

}  // namespace ecgssl::cli::detail

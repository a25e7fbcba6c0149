// Issue 19, "output locations": the command checks where it will write before any work starts.
// A device node or a folder as --out, or a missing folder, is refused at once (before the data is
// read: the data paths below do not exist); a second writer of the same file is refused while the
// first holds it; temporaries of a run killed during a save are cleaned up by the next run.
#include "commands.hpp"
#include "detail/output_target.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct outcome {
  int code;
  std::string err;
};

outcome run(int (*command)(const ecgssl::cli::arguments&, std::ostream&, std::ostream&), std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = command(args, out, err);
  return {code, err.str()};
}

fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("ecgssl_test_cli_outputs_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

const std::string records = std::string(ECGSSL_TEST_DATA_DIR) + "/records/challenge";

}  // namespace

TEST_CASE("a device node, a folder or a missing folder as --out is refused before the data is read") {
  const auto dir = scratch("targets");
  const std::vector<std::pair<std::string, std::string>> bad{
      {"/dev/full", "character device"}, {dir.string(), "is a directory"}, {(dir / "missing" / "x.safetensors").string(), "does not exist"}};
  for (const auto& [target, why] : bad) {
    INFO(target);
    const auto pre = run(ecgssl::cli::run_pretrain, {"--data", "no/such/folder", "--out", target});
    CHECK(pre.code == 1);
    CHECK(pre.err.find("--out") != std::string::npos);
    CHECK(pre.err.find(why) != std::string::npos);
    CHECK(pre.err.find("no/such/folder") == std::string::npos);
    const auto fine = run(ecgssl::cli::run_finetune, {"--data", "no/such/folder", "--random-init", "--out", target});
    CHECK(fine.code == 1);
    CHECK(fine.err.find(why) != std::string::npos);
  }
  struct stat st {};
  REQUIRE(::stat("/dev/full", &st) == 0);
  CHECK(S_ISCHR(st.st_mode));  // still the device, not a regular file written over it
  const auto log = run(ecgssl::cli::run_pretrain, {"--data", "no/such/folder", "--out", (dir / "ok.safetensors").string(),
                                                   "--log-csv", "/dev/full"});
  CHECK(log.code == 1);
  CHECK(log.err.find("--log-csv") != std::string::npos);
}

TEST_CASE("a second writer of the same output is refused while the first holds it; then it may write") {
  const auto dir = scratch("lock");
  const auto target = dir / "manifest.csv";
  {
    const auto first = ecgssl::cli::detail::claim_output(target, "--out");
    const auto second = run(ecgssl::cli::run_manifest, {records, "--out", target.string()});
    CHECK(second.code == 1);
    CHECK(second.err.find("another process is writing") != std::string::npos);
    CHECK(second.err.find(target.string()) != std::string::npos);  // the file, in the message
    CHECK(!fs::exists(target));
  }
  CHECK(run(ecgssl::cli::run_manifest, {records, "--out", target.string()}).code == 0);
  CHECK(fs::exists(target));
  CHECK(!fs::exists(dir / ".manifest.csv.lock"));  // the lock file goes with the run
}

TEST_CASE("temporaries of a killed run are removed by the next run of the same target, others are kept") {
  const auto dir = scratch("stale");
  const auto target = dir / "manifest.csv";
  const auto stale = dir / ".manifest.csv.tmp-999999999-0";  // above any pid_max: that process is gone
  const auto alive = dir / (".manifest.csv.tmp-" + std::to_string(::getppid()) + "-0");  // a running process
  const auto other = dir / ".other.csv.tmp-999999999-0";
  for (const auto& p : {stale, alive, other}) std::ofstream(p) << "partial";
  CHECK(run(ecgssl::cli::run_manifest, {records, "--out", target.string()}).code == 0);
  CHECK(!fs::exists(stale));
  CHECK(fs::exists(alive));
  CHECK(fs::exists(other));
}

// `ecgssl`: one program, one subcommand per task. Each subcommand is a function in its own
// translation unit (app/<name>.cpp, declared in app/commands.hpp) taking its arguments and
// output streams, so the tests drive exactly the code the user runs.
#include "commands.hpp"
#include "detail/world.hpp"

#include <ecgssl/nn/detail/onednn_matmul.hpp>
#include <ecgssl/version.hpp>

#include <csignal>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace {

using subcommand = std::function<int(const std::vector<std::string>&, std::ostream&, std::ostream&)>;

struct entry {
  const char* summary;
  subcommand run;
};

std::map<std::string, entry> subcommands() {
  std::map<std::string, entry> all;
  all.emplace("version", entry{"print the ecgssl version",
                               [](const std::vector<std::string>&, std::ostream& out, std::ostream&) {
                                 out << "ecgssl " << ECGSSL_VERSION_STRING << "\n"
                                     << "bf16 products: " << ecgssl::nn::detail::bf16_product_kernels() << "\n";
                                 return 0;
                               }});
  all.emplace("inspect", entry{"show what WFDB / Challenge records hold (--json for JSON lines)",
                               [](const std::vector<std::string>& a, std::ostream& out, std::ostream& err) {
                                 return ecgssl::cli::run_inspect(a, out, err);
                               }});
  all.emplace("manifest", entry{"scan a folder of records into a manifest CSV (kept and skipped, with reasons)",
                                ecgssl::cli::run_manifest});
  all.emplace("pretrain", entry{"pre-train an encoder (W2V+CMSC+RLM and baselines) on WFDB records", ecgssl::cli::run_pretrain});
  all.emplace("embed", entry{"embed records with a pre-trained encoder (.csv or .npy)", ecgssl::cli::run_embed});
  all.emplace("finetune", entry{"fine-tune for arrhythmia or identification (pre-trained or random init)", ecgssl::cli::run_finetune});
  all.emplace("evaluate", entry{"evaluate a fine-tuned model on lead sets (table or JSON)", ecgssl::cli::run_evaluate});
  all.emplace("predict", entry{"write Challenge 2021 output files for records", ecgssl::cli::run_predict});
  all.emplace("score", entry{"Challenge 2021 metrics of output files against label headers", ecgssl::cli::run_score});
  all.emplace("bench", entry{"time pre-training steps and encoder inference", ecgssl::cli::run_bench});
  return all;
}

void print_usage(std::ostream& out, const std::map<std::string, entry>& all) {
  out << "usage: ecgssl <subcommand> [options]   (ecgssl <subcommand> --help for its options)\n\n"
         "subcommands:\n";
  for (const auto& [name, e] : all) out << "  " << name << std::string(12 - std::min<std::size_t>(11, name.size()), ' ') << e.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) would kill the process with SIGXFSZ and no message; ignored,
  // the write fails with EFBIG and the atomic writer reports it, naming the file.
  std::signal(SIGXFSZ, SIG_IGN);
  const auto all = subcommands();
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    print_usage(argc < 2 ? std::cerr : std::cout, all);
    return argc < 2 ? 2 : 0;
  }
  if (std::string(argv[1]) == "--version") return all.at("version").run({}, std::cout, std::cerr);
  const auto found = all.find(argv[1]);
  if (found == all.end()) {
    std::cerr << "ecgssl: unknown subcommand '" << argv[1] << "'\n\n";
    print_usage(std::cerr, all);
    return 2;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  std::optional<ecgssl::cli::detail::world_session> session;
  try {
    session.emplace(&argc, &argv);
  } catch (const std::exception& e) {
    std::cerr << "ecgssl " << found->first << ": " << e.what() << "\n";
    return 2;
  }
  auto& world = ecgssl::cli::detail::world();
  const std::string who = world.size() > 1 ? " (rank " + std::to_string(world.rank()) + ")" : std::string();
  if (world.size() > 1 && found->first != "pretrain" && found->first != "finetune") {
    if (world.rank() == 0) {
      std::cerr << "ecgssl " << found->first << ": runs in one process; of the subcommands only pretrain and finetune "
                   "train data-parallel on several ranks (run it without mpirun/srun)\n";
    }
    return 2;
  }
  // Rank 0 speaks for the run; the others print only their errors.
  std::ostream discarded(nullptr);  // no buffer: every write is dropped
  std::ostream& out = world.rank() == 0 ? static_cast<std::ostream&>(std::cout) : discarded;
  try {
    const int rc = found->second.run(args, out, std::cerr);
    if (rc != 0) ecgssl::cli::detail::abort_world(rc);
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "ecgssl " << found->first << who << ": " << e.what() << "\n";
    ecgssl::cli::detail::abort_world(1);
    return 1;
  }
}

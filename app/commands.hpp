#pragma once
/// \file commands.hpp
/// The subcommands of `ecgssl`, one translation unit each (app/<name>.cpp). Each takes the words
/// after its name and the output streams, so tests drive exactly the code the user runs, and
/// returns the exit status: 0 on success, 2 on a usage error (message and usage on `err`), 1
/// when the data, configuration, checkpoint or a write fails (one line on `err`).
/// Declarations only: a test of one subcommand compiles none of the pipelines.

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace ecgssl::cli {

using arguments = std::vector<std::string>;

int run_inspect(const arguments& args, std::ostream& out, std::ostream& err);
int run_manifest(const arguments& args, std::ostream& out, std::ostream& err);
int run_pretrain(const arguments& args, std::ostream& out, std::ostream& err);
int run_embed(const arguments& args, std::ostream& out, std::ostream& err);
int run_finetune(const arguments& args, std::ostream& out, std::ostream& err);
int run_evaluate(const arguments& args, std::ostream& out, std::ostream& err);
int run_predict(const arguments& args, std::ostream& out, std::ostream& err);
int run_score(const arguments& args, std::ostream& out, std::ostream& err);
int run_bench(const arguments& args, std::ostream& out, std::ostream& err);

/// Customisation points of `inspect`.
struct inspect_hooks {
  /// Maps a record's `#Dx` SNOMED codes to label abbreviations; empty = no label space.
  std::function<std::vector<std::string>(const std::vector<std::string>&)> dx_to_labels;
};

/// `inspect` with another label space than the Challenge 2021 classes.
int run_inspect(const arguments& args, std::ostream& out, std::ostream& err, const inspect_hooks& hooks);

}  // namespace ecgssl::cli

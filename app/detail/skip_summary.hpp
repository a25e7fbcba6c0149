#pragma once
/// \file skip_summary.hpp
/// How `manifest` and `pretrain` tell which records they left out: one line per reason, grouped
/// by the reason's first clause, so a hundred unreadable files read as one line.

#include <cstddef>
#include <map>
#include <ostream>
#include <string>

#include <ecgssl/io/manifest.hpp>

namespace ecgssl::cli::detail {

/// Prints "  skipped N: reason" for each reason among the unusable entries of `m`.
inline void print_skipped(std::ostream& out, const io::manifest& m) {
  std::map<std::string, std::size_t> by_reason;
  for (const auto& e : m.entries) {
    if (!e.usable()) ++by_reason[e.skip_reason.substr(0, e.skip_reason.find(':'))];
  }
  for (const auto& [reason, count] : by_reason) out << "  skipped " << count << ": " << reason << "\n";
}

}  // namespace ecgssl::cli::detail

#pragma once
/// \file csv.hpp
/// Reading CSV as RFC 4180 writes it (fields with a comma, quote or line break are quoted,
/// quotes doubled; a quoted field may span lines), with the line each record starts on, so a
/// reader can name the file and line of a bad field. Used by the manifest and the PTB-XL
/// metadata readers.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../../core/error.hpp"

namespace ecgssl::io::detail {

inline error_location csv_where(const std::string& source, std::int64_t line) {
  error_location loc = in_file(source);
  loc.line = line;
  return loc;
}

/// RFC 4180 records with line numbers (a quoted field may span lines).
class csv_reader {
 public:
  csv_reader(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  bool next(std::vector<std::string>& row, std::int64_t& first_line) {
    row.clear();
    if (pos_ >= text_.size()) return false;
    first_line = line_;
    std::string field;
    bool quoted = false;
    bool after_quote = false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (quoted) {
        if (c == '"') {
          if (pos_ < text_.size() && text_[pos_] == '"') {
            field += '"';
            ++pos_;
          } else {
            quoted = false;
            after_quote = true;
          }
        } else {
          if (c == '\n') ++line_;
          field += c;
        }
        continue;
      }
      if (c == ',') {
        row.push_back(std::move(field));
        field.clear();
        after_quote = false;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
        ++line_;
        row.push_back(std::move(field));
        return true;
      } else if (c == '"' && field.empty() && !after_quote) {
        quoted = true;
      } else if (after_quote) {
        throw io_error(csv_where(source_, line_), "text after a closing quote", "a comma or the end of the line");
      } else {
        field += c;
      }
    }
    if (quoted) throw io_error(csv_where(source_, first_line), "unterminated quoted field", "a closing quote");
    row.push_back(std::move(field));
    return true;
  }

 private:
  const std::string& text_;
  const std::string& source_;
  std::size_t pos_ = 0;
  std::int64_t line_ = 1;
};

}  // namespace ecgssl::io::detail

#pragma once
/// \file ptbxl_database.hpp
/// PTB-XL's own labels (Wagner et al., Scientific Data 7:154, 2020): `ptbxl_database.csv` (one
/// row per recording: `ecg_id`, `patient_id`, `scp_codes` as a Python dict literal of SCP-ECG
/// statement -> likelihood %, `strat_fold`, `filename_hr`, ...) and `scp_statements.csv` (each
/// statement's `diagnostic` flag and `diagnostic_class`). From them:
/// - the five diagnostic superclasses NORM, MI, STTC, CD, HYP of a recording: the
///   `diagnostic_class` of each of its statements that `scp_statements.csv` marks diagnostic,
///   whatever the likelihood (as the dataset's own example code and the PTB-XL benchmark do);
/// - the PhysioNet/CinC Challenge 2020 scored classes its statements name (the table below;
///   the Challenge labelled PTB-XL from another annotation pass, so its `#Dx` lines for the
///   same recordings can differ);
/// - the recommended split: folds 1-8 train, 9 validation, 10 test (one patient's recordings
///   always share a fold).
/// Every problem is an io_error naming the file, line and column.

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "detail/csv.hpp"
#include "detail/regular_file.hpp"

namespace ecgssl::io {

/// The diagnostic superclasses, in the order of every superclass label vector.
inline constexpr std::array<std::string_view, 5> ptbxl_superclasses{"NORM", "MI", "STTC", "CD", "HYP"};

/// SCP-ECG statements of PTB-XL that name a Challenge 2020 scored class (SNOMED CT code), by the
/// statements' meaning in scp_statements.csv and the classes' in the Challenge's
/// dx_mapping_scored.csv; only where the two name the same finding (SVARR, "supraventricular
/// arrhythmia", is not mapped to premature beats). Statements with no such class (NORM, MI
/// localisations, hypertrophies, ...) map to none.
inline constexpr std::array<std::pair<std::string_view, std::uint64_t>, 21> ptbxl_challenge_codes{{
    {"1AVB", 270492004},   // 1st degree AV block -> IAVB
    {"AFIB", 164889003},   // atrial fibrillation -> AF
    {"AFLT", 164890007},   // atrial flutter -> AFL
    {"CLBBB", 164909002},  // complete LBBB -> LBBB
    {"CRBBB", 713427006},  // complete RBBB -> CRBBB
    {"IRBBB", 713426002},  // incomplete RBBB -> IRBBB
    {"LAFB", 445118002},   // left anterior fascicular block -> LAnFB
    {"LVOLT", 251146004},  // low QRS voltages -> LQRSV
    {"IVCD", 698252002},   // non-specific intraventricular conduction disturbance -> NSIVCB
    {"SR", 426783006},     // sinus rhythm -> NSR
    {"PAC", 284470004},    // atrial premature complex -> PAC
    {"PACE", 10370003},    // pacemaker -> PR
    {"PVC", 427172004},    // ventricular premature complex -> PVC
    {"LPR", 164947007},    // prolonged PR interval -> LPR
    {"LNGQT", 111975006},  // long QT -> LQT
    {"QWAVE", 164917005},  // Q waves present -> QAb
    {"SARRH", 427393009},  // sinus arrhythmia -> SA
    {"SBRAD", 426177001},  // sinus bradycardia -> SB
    {"STACH", 427084000},  // sinus tachycardia -> STach
    {"TAB_", 164934002},   // T-wave abnormality -> TAb
    {"INVT", 59931005},    // inverted T waves -> TInv
}};

/// One row of ptbxl_database.csv.
struct ptbxl_record {
  std::int64_t ecg_id = 0;
  std::string patient_id;   ///< as an integer string ("15709"; the CSV writes 15709.0)
  std::optional<double> age;
  std::string sex;          ///< "0" male, "1" female, as PTB-XL codes it
  std::vector<std::pair<std::string, double>> scp_codes;  ///< statement -> likelihood %, in file order
  std::string heart_axis;   ///< "", "LAD", "RAD", ...
  int strat_fold = 0;       ///< 1-10
  std::string filename_hr;  ///< "records500/00000/00001_hr"
  std::string filename_lr;
  std::int64_t line = 0;    ///< where the row starts in the CSV
};

/// One row of scp_statements.csv.
struct scp_statement {
  std::string code;
  bool diagnostic = false;
  std::string diagnostic_class;  ///< NORM, MI, STTC, CD, HYP for diagnostic statements, else ""
  bool form = false;
  bool rhythm = false;
  std::string description;
};

/// Which part of the recommended split a recording is in.
enum class ptbxl_split { train, valid, test };

/// PTB-XL's metadata, read and checked.
class ptbxl_database {
 public:
  /// Reads both files; io_error naming the file, line and column of anything malformed (a
  /// missing column, an unreadable `scp_codes`, a fold outside 1-10, a statement
  /// scp_statements.csv does not define, a duplicate ecg_id).
  static ptbxl_database load(const std::filesystem::path& database_csv, const std::filesystem::path& statements_csv) {
    const auto text_of = [](const std::filesystem::path& p) {
      return detail::read_regular_text_file(p.string(), in_file(p.string()), "a PTB-XL CSV file", std::size_t{256} << 20);
    };
    const std::string database = text_of(database_csv);  // first: a missing database is the likelier mistake
    const std::string statements = text_of(statements_csv);
    return parse(database, database_csv.string(), statements, statements_csv.string());
  }

  /// As load, from the files' text (`*_name` name them in errors).
  static ptbxl_database parse(const std::string& database_text, const std::string& database_name, const std::string& statements_text,
                              const std::string& statements_name) {
    ptbxl_database db;
    db.read_statements(statements_text, statements_name);
    db.read_database(database_text, database_name);
    return db;
  }

  [[nodiscard]] const std::vector<ptbxl_record>& records() const { return records_; }
  [[nodiscard]] const std::map<std::string, scp_statement>& statements() const { return statements_; }

  /// The record with this ecg_id, or nullptr.
  [[nodiscard]] const ptbxl_record* find(std::int64_t ecg_id) const {
    const auto it = std::lower_bound(records_.begin(), records_.end(), ecg_id,
                                     [](const ptbxl_record& r, std::int64_t id) { return r.ecg_id < id; });
    return it != records_.end() && it->ecg_id == ecg_id ? &*it : nullptr;
  }

  /// 0/1 per ptbxl_superclasses entry.
  [[nodiscard]] std::array<int, 5> superclass_labels(const ptbxl_record& r) const {
    std::array<int, 5> labels{};
    for (const auto& [code, likelihood] : r.scp_codes) {
      const auto& s = statements_.at(code);
      if (!s.diagnostic) continue;
      for (std::size_t k = 0; k < ptbxl_superclasses.size(); ++k) labels[k] |= s.diagnostic_class == ptbxl_superclasses[k];
    }
    return labels;
  }

  /// The Challenge 2020 scored classes (SNOMED CT codes) its statements name, in table order.
  [[nodiscard]] static std::vector<std::uint64_t> challenge_codes(const ptbxl_record& r) {
    std::vector<std::uint64_t> codes;
    for (const auto& entry : ptbxl_challenge_codes) {
      const bool has = std::any_of(r.scp_codes.begin(), r.scp_codes.end(), [&](const auto& c) { return c.first == entry.first; });
      if (has) codes.push_back(entry.second);
    }
    // The heart axis is a column of its own in PTB-XL, and a scored class in the Challenge.
    if (r.heart_axis == "LAD" || r.heart_axis == "ALAD") codes.push_back(39732003);
    if (r.heart_axis == "RAD" || r.heart_axis == "ARAD") codes.push_back(47665007);
    return codes;
  }

  /// The recommended split: folds 1-8 train, 9 validation, 10 test.
  [[nodiscard]] static ptbxl_split split_of(const ptbxl_record& r) {
    return r.strat_fold == 10 ? ptbxl_split::test : r.strat_fold == 9 ? ptbxl_split::valid : ptbxl_split::train;
  }

  /// The ecg_id of a WFDB record name as PTB-XL's files are named ("00001_hr", "HR00001",
  /// "records500/00000/00001_hr"), or nullopt.
  [[nodiscard]] static std::optional<std::int64_t> ecg_id_of(std::string_view name) {
    const auto slash = name.find_last_of('/');
    if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
    if (name.size() > 4 && name.substr(name.size() - 4) == ".hea") name.remove_suffix(4);
    if (name.size() > 3 && (name.substr(name.size() - 3) == "_hr" || name.substr(name.size() - 3) == "_lr")) name.remove_suffix(3);
    else if (name.size() > 2 && name.substr(0, 2) == "HR") name.remove_prefix(2);
    else return std::nullopt;
    std::int64_t id = 0;
    const auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (name.empty() || ec != std::errc() || ptr != name.data() + name.size() || id <= 0) return std::nullopt;
    return id;
  }

 private:
  static error_location at(const std::string& file, std::int64_t line, const std::string& column) {
    error_location loc = in_file(file, column);
    loc.line = line;
    return loc;
  }

  /// Rows of a CSV file as column name -> field, checking that `required` columns exist.
  template <class OnRow>
  static void for_each_row(const std::string& text, const std::string& file, const std::vector<std::string>& required, OnRow&& on_row) {
    detail::csv_reader reader(text, file);
    std::vector<std::string> header, row;
    std::int64_t line = 0;
    if (!reader.next(header, line)) throw io_error(in_file(file), "empty file", "a header line naming the columns");
    std::map<std::string, std::size_t> column;
    for (std::size_t c = 0; c < header.size(); ++c) column[header[c]] = c;
    for (const auto& name : required) {
      if (!column.count(name)) throw io_error(at(file, 1, name), "no column '" + name + "'", "the columns of PTB-XL's " + std::filesystem::path(file).filename().string());
    }
    while (reader.next(row, line)) {
      if (row.size() == 1 && row[0].empty()) continue;  // a blank line
      if (row.size() != header.size()) {
        throw io_error(at(file, line, ""), std::to_string(row.size()) + " fields", std::to_string(header.size()) + " fields, as the header");
      }
      on_row([&](const std::string& name) -> const std::string& { return row[column.at(name)]; }, line);
    }
  }

  static double parse_number(const std::string& text, const std::string& file, std::int64_t line, const std::string& column) {
    double v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) {
      throw io_error(at(file, line, column), "'" + text + "' is not a number", "a finite decimal number");
    }
    return v;
  }

  /// An integral number written as a decimal ("15709.0"), as an integer string.
  static std::string integral(const std::string& text, const std::string& file, std::int64_t line, const std::string& column) {
    const double v = parse_number(text, file, line, column);
    if (v != std::floor(v) || v < 0 || v > 9e15) throw io_error(at(file, line, column), "'" + text + "'", "a non-negative whole number");
    return std::to_string(static_cast<std::int64_t>(v));
  }

  /// `scp_codes`: a Python dict literal of 'STATEMENT': number pairs, e.g.
  /// {'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}; nothing else is accepted.
  static std::vector<std::pair<std::string, double>> parse_scp_codes(const std::string& text, const std::string& file, std::int64_t line) {
    const auto bad = [&](const std::string& problem) -> io_error {
      return io_error(at(file, line, "scp_codes"), problem + " in " + text, "a dict literal such as {'NORM': 100.0, 'SR': 0.0}");
    };
    std::vector<std::pair<std::string, double>> out;
    std::size_t i = 0;
    const auto skip_space = [&] {
      while (i < text.size() && text[i] == ' ') ++i;
    };
    skip_space();
    if (i >= text.size() || text[i] != '{') throw bad("no opening brace");
    ++i;
    skip_space();
    if (i < text.size() && text[i] == '}') return out;
    while (true) {
      skip_space();
      if (i >= text.size() || text[i] != '\'') throw bad("a statement not in single quotes");
      const std::size_t close = text.find('\'', i + 1);
      if (close == std::string::npos) throw bad("an unterminated statement name");
      std::string code = text.substr(i + 1, close - i - 1);
      i = close + 1;
      skip_space();
      if (i >= text.size() || text[i] != ':') throw bad("no colon after '" + code + "'");
      ++i;
      skip_space();
      std::size_t end = i;
      while (end < text.size() && text[end] != ',' && text[end] != '}' && text[end] != ' ') ++end;
      const double likelihood = parse_number(text.substr(i, end - i), file, line, "scp_codes");
      if (std::any_of(out.begin(), out.end(), [&](const auto& c) { return c.first == code; })) throw bad("'" + code + "' twice");
      out.emplace_back(std::move(code), likelihood);
      i = end;
      skip_space();
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < text.size() && text[i] == '}') {
        ++i;
        skip_space();
        if (i != text.size()) throw bad("text after the closing brace");
        return out;
      }
      throw bad("no comma or closing brace");
    }
  }

  void read_statements(const std::string& text, const std::string& file) {
    // The statement column has an empty name in the published file.
    for_each_row(text, file, {"", "description", "diagnostic", "form", "rhythm", "diagnostic_class"}, [&](const auto& field, std::int64_t line) {
      scp_statement s;
      s.code = field("");
      if (s.code.empty()) throw io_error(at(file, line, "statement"), "an empty statement code", "a code such as NORM");
      const auto flag = [&](const char* column) {
        const std::string& v = field(column);
        if (v.empty()) return false;
        const double x = parse_number(v, file, line, column);
        if (x != 0.0 && x != 1.0) throw io_error(at(file, line, column), "'" + v + "'", "1.0 or empty");
        return x == 1.0;
      };
      s.diagnostic = flag("diagnostic");
      s.form = flag("form");
      s.rhythm = flag("rhythm");
      s.diagnostic_class = field("diagnostic_class");
      s.description = field("description");
      if (s.diagnostic && std::find(ptbxl_superclasses.begin(), ptbxl_superclasses.end(), s.diagnostic_class) == ptbxl_superclasses.end()) {
        throw io_error(at(file, line, "diagnostic_class"), "'" + s.diagnostic_class + "' for diagnostic statement " + s.code,
                       "NORM, MI, STTC, CD or HYP");
      }
      if (!statements_.emplace(s.code, s).second) throw io_error(at(file, line, "statement"), s.code + " twice", "each statement once");
    });
  }

  void read_database(const std::string& text, const std::string& file) {
    for_each_row(text, file, {"ecg_id", "patient_id", "age", "sex", "scp_codes", "heart_axis", "strat_fold", "filename_lr", "filename_hr"},
                 [&](const auto& field, std::int64_t line) {
                   ptbxl_record r;
                   r.line = line;
                   r.ecg_id = std::stoll(integral(field("ecg_id"), file, line, "ecg_id"));
                   r.patient_id = integral(field("patient_id"), file, line, "patient_id");
                   if (!field("age").empty()) r.age = parse_number(field("age"), file, line, "age");
                   r.sex = field("sex");
                   r.scp_codes = parse_scp_codes(field("scp_codes"), file, line);
                   for (const auto& [code, likelihood] : r.scp_codes) {
                     if (!statements_.count(code)) {
                       throw io_error(at(file, line, "scp_codes"), "statement '" + code + "'", "a statement of scp_statements.csv");
                     }
                     if (likelihood < 0 || likelihood > 100) {
                       throw io_error(at(file, line, "scp_codes"), "likelihood " + field("scp_codes") + " of " + code, "0 to 100 (%)");
                     }
                   }
                   r.heart_axis = field("heart_axis");
                   const std::string fold = integral(field("strat_fold"), file, line, "strat_fold");
                   r.strat_fold = fold.size() <= 2 ? std::stoi(fold) : 0;
                   if (r.strat_fold < 1 || r.strat_fold > 10) throw io_error(at(file, line, "strat_fold"), "fold " + fold, "1 to 10");
                   r.filename_hr = field("filename_hr");
                   r.filename_lr = field("filename_lr");
                   records_.push_back(std::move(r));
                 });
    std::sort(records_.begin(), records_.end(), [](const ptbxl_record& a, const ptbxl_record& b) { return a.ecg_id < b.ecg_id; });
    for (std::size_t i = 1; i < records_.size(); ++i) {
      if (records_[i].ecg_id == records_[i - 1].ecg_id) {
        throw io_error(at(file, records_[i].line, "ecg_id"), std::to_string(records_[i].ecg_id) + " also on line " + std::to_string(records_[i - 1].line),
                       "each ecg_id once");
      }
    }
  }

  std::vector<ptbxl_record> records_;
  std::map<std::string, scp_statement> statements_;
};

}  // namespace ecgssl::io

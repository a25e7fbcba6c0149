#pragma once
/// \file safetensors.hpp
/// The safetensors file format (what PyTorch users load with the `safetensors` package):
///
///     [8 bytes: N, little-endian u64][N bytes: JSON header][data section]
///
/// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
/// relative to the start of the data section) and may hold "__metadata__", a string -> string
/// map. Data is raw little-endian, row-major. The reference writer pads the header with spaces to
/// a multiple of 8 bytes and stores tensors by dtype (widest first) then name, so that every
/// tensor starts at an offset aligned to its element size; `serialize()` does the same and so
/// produces the reference writer's bytes for the same tensors and (single-key) metadata.
///
/// Reading validates like the reference reader: header length within the file, a JSON object
/// beginning with '{', known dtypes, offsets inside the data section, byte counts equal to
/// shape x element size, tensors tiling the data section with no overlap, gap or trailing bytes.
/// Every failure is an io_error naming the file and the field.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "detail/regular_file.hpp"
#include "../core/tensor.hpp"
#include "atomic_file.hpp"

namespace ecgssl::io {

/// A set of named tensors plus string metadata, read from or written to a .safetensors file.
class safetensors {
 public:
  /// Element types. Declared in the order of the reference implementation's dtype enum: its
  /// writer sorts tensors by this order descending (then by name), and so does `serialize()`.
  enum class dtype : int { boolean, u8, i8, i16, u16, f16, bf16, i32, u32, f32, f64, i64, u64 };

  /// Borrowed view of one stored tensor (valid while the safetensors object lives unchanged).
  struct tensor_view {
    std::string_view name;
    dtype type = dtype::f32;
    std::span<const std::size_t> shape;
    std::span<const std::byte> bytes;  // little-endian, row-major
    std::size_t element_count = 0;
  };

  /// The reference reader's limit on the header size.
  static constexpr std::uint64_t max_header_bytes = 100'000'000;

  safetensors() = default;

  // ---------------------------------------------------------------- reading

  /// Reads and validates a whole file. Throws io_error naming the file and the faulty field.
  [[nodiscard]] static safetensors load(const std::filesystem::path& path) {
    const std::string source = path.string();
    std::vector<std::byte> bytes;
    detail::read_regular_file(source, bytes, in_file(source), "a .safetensors file", std::size_t{256} << 30);
    return from_bytes(std::move(bytes), source);
  }

  /// Validates an in-memory file image; `source` names it in error messages.
  [[nodiscard]] static safetensors parse(std::span<const std::byte> file_bytes, std::string source = "<memory>") {
    return from_bytes(std::vector<std::byte>(file_bytes.begin(), file_bytes.end()), std::move(source));
  }

  /// Where the tensors came from ("<memory>" for parse() without a name, empty when built).
  [[nodiscard]] const std::string& source() const { return source_; }

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] bool contains(std::string_view name) const { return index_.count(std::string(name)) != 0; }

  /// Tensor names in storage order.
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
  }

  /// The tensor of that name; io_error naming it when absent.
  [[nodiscard]] tensor_view tensor(std::string_view name) const {
    const auto it = index_.find(std::string(name));
    if (it == index_.end()) {
      throw io_error(in_file(source_, std::string(name)), "no tensor of that name", "a tensor stored in the file");
    }
    return view(entries_[it->second]);
  }

  [[nodiscard]] std::vector<tensor_view> tensors() const {
    std::vector<tensor_view> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(view(e));
    return out;
  }

  [[nodiscard]] const std::map<std::string, std::string>& metadata() const { return metadata_; }
  [[nodiscard]] std::optional<std::string> metadata(std::string_view key) const {
    const auto it = metadata_.find(std::string(key));
    if (it == metadata_.end()) return std::nullopt;
    return it->second;
  }

  /// Copies a tensor into `out`, converting each element to T. Floating T accepts every dtype;
  /// integral T accepts integer and BOOL tensors whose values fit T. Anything else (a float
  /// tensor read as integers, a value out of T's range, a BOOL byte other than 0/1, a size that
  /// differs from out.size()) is an io_error naming the tensor.
  template <class T>
  void read_into(std::string_view name, std::span<T> out) const {
    static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, "read_into needs a numeric element type");
    const tensor_view t = tensor(name);
    const std::string field(name);
    if (out.size() != t.element_count) {
      throw io_error(in_file(source_, field), "tensor has " + std::to_string(t.element_count) + " elements",
                     std::to_string(out.size()) + " elements");
    }
    if constexpr (std::is_integral_v<T>) {
      if (is_floating(t.type)) {
        throw io_error(in_file(source_, field + ".dtype"), std::string("dtype ") + dtype_name(t.type) +
                                                               " cannot be read as integers",
                       "an integer or BOOL dtype");
      }
    }
    if constexpr (std::endian::native == std::endian::little) {
      if (dtype_matches<T>(t.type)) {  // same representation: one copy, no per-element dispatch
        if (!t.bytes.empty()) std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
        return;
      }
    }
    const std::byte* p = t.bytes.data();
    const std::size_t width = dtype_size(t.type);
    for (std::size_t i = 0; i < t.element_count; ++i, p += width) out[i] = element<T>(t.type, p, field, i);
  }

  /// A tensor's elements converted to T (see read_into).
  template <class T>
  [[nodiscard]] std::vector<T> values(std::string_view name) const {
    std::vector<T> out(tensor(name).element_count);
    read_into<T>(name, std::span<T>(out));
    return out;
  }

  // ---------------------------------------------------------------- writing

  /// Adds a tensor from raw little-endian bytes. Throws config_error for a duplicate or reserved
  /// name, shape_error when the byte count is not shape x element size.
  void add(std::string name, dtype type, std::vector<std::size_t> shape, std::span<const std::byte> bytes) {
    if (name.empty()) throw config_error(at_field("name"), "empty tensor name", "a non-empty name");
    if (name == "__metadata__") throw config_error(at_field(name), "tensor name is reserved by the format", "another name");
    if (index_.count(name) != 0) throw config_error(at_field(name), "tensor added twice", "unique tensor names");
    const auto count = element_count(shape);
    if (!count || *count > std::numeric_limits<std::size_t>::max() / dtype_size(type) ||
        *count * dtype_size(type) != bytes.size()) {
      throw shape_error(at_field(name),
                        std::to_string(bytes.size()) + " bytes for shape " + shape_string(shape) + " of " + dtype_name(type),
                        "shape x " + std::to_string(dtype_size(type)) + " bytes");
    }
    entry e{std::move(name), type, std::move(shape), data_.size(), bytes.size(), count.value()};
    data_.insert(data_.end(), bytes.begin(), bytes.end());
    index_.emplace(e.name, entries_.size());
    entries_.push_back(std::move(e));
  }

  /// Adds a tensor of C++ values (float -> F32, double -> F64, std::int64_t -> I64, std::int32_t
  /// -> I32, std::uint8_t -> U8, std::uint64_t -> U64), stored little-endian.
  template <class T>
  void add(std::string name, std::vector<std::size_t> shape, std::span<const T> values) {
    constexpr dtype type = dtype_of<T>();
    std::vector<std::byte> bytes(values.size() * sizeof(T));
    if constexpr (std::endian::native == std::endian::little) {
      if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
    } else {
      for (std::size_t i = 0; i < values.size(); ++i) {
        std::memcpy(bytes.data() + i * sizeof(T), &values[i], sizeof(T));
        std::reverse(bytes.data() + i * sizeof(T), bytes.data() + (i + 1) * sizeof(T));
      }
    }
    add(std::move(name), type, std::move(shape), std::span<const std::byte>(bytes));
  }

  /// Adds a scalar (shape []).
  template <class T>
  void add_scalar(std::string name, T value) {
    add<T>(std::move(name), {}, std::span<const T>(&value, 1));
  }

  /// Sets a "__metadata__" entry (replacing a previous value).
  void set_metadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

  /// The JSON header exactly as written: compact, "__metadata__" first (keys sorted), tensors in
  /// the reference writer's order, padded with spaces to a multiple of 8 bytes.
  [[nodiscard]] std::string header() const {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    if (!metadata_.empty()) {
      nlohmann::ordered_json m = nlohmann::ordered_json::object();
      for (const auto& [key, value] : metadata_) m[key] = value;
      h["__metadata__"] = std::move(m);
    }
    std::size_t offset = 0;
    for (const std::size_t i : write_order()) {
      const auto& e = entries_[i];
      nlohmann::ordered_json t = nlohmann::ordered_json::object();
      t["dtype"] = dtype_name(e.type);
      t["shape"] = nlohmann::ordered_json::array();
      for (const auto extent : e.shape) t["shape"].push_back(static_cast<std::uint64_t>(extent));
      t["data_offsets"] = nlohmann::ordered_json::array(
          {static_cast<std::uint64_t>(offset), static_cast<std::uint64_t>(offset + e.size)});
      offset += e.size;
      h[e.name] = std::move(t);
    }
    std::string text;
    try {
      text = h.dump();
    } catch (const nlohmann::json::exception&) {
      throw config_error(at_field("safetensors header"), "a tensor name or metadata string is not valid UTF-8",
                         "UTF-8 names and metadata");
    }
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
  }

  /// The complete file image.
  [[nodiscard]] std::vector<std::byte> serialize() const {
    const std::string head = header();
    std::vector<std::byte> out(8 + head.size());
    store_u64_le(out.data(), head.size());
    std::memcpy(out.data() + 8, head.data(), head.size());
    out.reserve(out.size() + data_.size());
    for (const std::size_t i : write_order()) {
      const auto& e = entries_[i];
      out.insert(out.end(), data_.begin() + static_cast<std::ptrdiff_t>(e.offset),
                 data_.begin() + static_cast<std::ptrdiff_t>(e.offset + e.size));
    }
    return out;
  }

  /// Writes the file atomically (see atomic_file.hpp): a failure leaves any previous file as it was.
  void save(const std::filesystem::path& path) const {
    const std::string head = header();
    std::byte length[8];
    store_u64_le(length, head.size());
    atomic_file file(path);
    file.write(std::span<const std::byte>(length, 8));
    file.write(std::as_bytes(std::span<const char>(head.data(), head.size())));
    for (const std::size_t i : write_order()) {
      const auto& e = entries_[i];
      file.write(std::span<const std::byte>(data_.data() + e.offset, e.size));
    }
    file.commit();
  }

  // ---------------------------------------------------------------- dtypes

  [[nodiscard]] static constexpr std::size_t dtype_size(dtype type) {
    switch (type) {
      case dtype::boolean: case dtype::u8: case dtype::i8: return 1;
      case dtype::i16: case dtype::u16: case dtype::f16: case dtype::bf16: return 2;
      case dtype::i32: case dtype::u32: case dtype::f32: return 4;
      case dtype::f64: case dtype::i64: case dtype::u64: return 8;
    }
    return 1;
  }

  [[nodiscard]] static constexpr const char* dtype_name(dtype type) {
    switch (type) {
      case dtype::boolean: return "BOOL";
      case dtype::u8: return "U8";
      case dtype::i8: return "I8";
      case dtype::i16: return "I16";
      case dtype::u16: return "U16";
      case dtype::f16: return "F16";
      case dtype::bf16: return "BF16";
      case dtype::i32: return "I32";
      case dtype::u32: return "U32";
      case dtype::f32: return "F32";
      case dtype::f64: return "F64";
      case dtype::i64: return "I64";
      case dtype::u64: return "U64";
    }
    return "?";
  }

  [[nodiscard]] static std::optional<dtype> dtype_from_name(std::string_view name) {
    for (int i = 0; i <= static_cast<int>(dtype::u64); ++i) {
      if (name == dtype_name(static_cast<dtype>(i))) return static_cast<dtype>(i);
    }
    return std::nullopt;
  }

  [[nodiscard]] static constexpr bool is_floating(dtype type) {
    return type == dtype::f16 || type == dtype::bf16 || type == dtype::f32 || type == dtype::f64;
  }

  template <class T>
  [[nodiscard]] static constexpr dtype dtype_of() {
    if constexpr (std::is_same_v<T, float>) return dtype::f32;
    else if constexpr (std::is_same_v<T, double>) return dtype::f64;
    else if constexpr (std::is_same_v<T, std::int64_t>) return dtype::i64;
    else if constexpr (std::is_same_v<T, std::int32_t>) return dtype::i32;
    else if constexpr (std::is_same_v<T, std::uint8_t>) return dtype::u8;
    else if constexpr (std::is_same_v<T, std::uint64_t>) return dtype::u64;
    else static_assert(sizeof(T) == 0, "no safetensors dtype for this C++ type");
  }

  /// Whether a tensor of `type` holds exactly T's object representation.
  template <class T>
  [[nodiscard]] static constexpr bool dtype_matches(dtype type) {
    if constexpr (std::is_same_v<T, float>) return type == dtype::f32;
    else if constexpr (std::is_same_v<T, double>) return type == dtype::f64;
    else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
      return (sizeof(T) == 8 && type == dtype::i64) || (sizeof(T) == 4 && type == dtype::i32) ||
             (sizeof(T) == 2 && type == dtype::i16) || (sizeof(T) == 1 && type == dtype::i8);
    } else if constexpr (std::is_integral_v<T>) {
      return (sizeof(T) == 8 && type == dtype::u64) || (sizeof(T) == 4 && type == dtype::u32) ||
             (sizeof(T) == 2 && type == dtype::u16) || (sizeof(T) == 1 && type == dtype::u8);
    } else {
      return false;
    }
  }

  /// IEEE binary16 -> float (exact).
  [[nodiscard]] static float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1fu;
    const std::uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0) {  // zero or subnormal: mantissa x 2^-24
      const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
      return sign ? -magnitude : magnitude;
    }
    const std::uint32_t bits = exponent == 31 ? (sign | 0x7f800000u | (mantissa << 13))
                                              : (sign | ((exponent + 112u) << 23) | (mantissa << 13));
    return std::bit_cast<float>(bits);
  }

  /// bfloat16 -> float (exact: bfloat16 is the upper half of a binary32).
  [[nodiscard]] static float bfloat16_to_float(std::uint16_t b) {
    return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
  }

 private:
  struct entry {
    std::string name;
    dtype type;
    std::vector<std::size_t> shape;
    std::size_t offset;  // bytes from the start of data_ (which may begin with a file's header)
    std::size_t size;    // bytes
    std::size_t count;   // elements
  };

  [[nodiscard]] tensor_view view(const entry& e) const {
    return tensor_view{e.name, e.type, std::span<const std::size_t>(e.shape),
                       std::span<const std::byte>(data_.data() + e.offset, e.size), e.count};
  }

  [[nodiscard]] std::vector<std::size_t> write_order() const {
    std::vector<std::size_t> order(entries_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [this](std::size_t a, std::size_t b) {
      const auto& x = entries_[a];
      const auto& y = entries_[b];
      if (x.type != y.type) return static_cast<int>(x.type) > static_cast<int>(y.type);
      return x.name < y.name;
    });
    return order;
  }

  /// Product of the extents, or nothing on overflow.
  [[nodiscard]] static std::optional<std::size_t> element_count(const std::vector<std::size_t>& shape) {
    std::size_t count = 1;
    for (const auto extent : shape) {
      if (extent != 0 && count > std::numeric_limits<std::size_t>::max() / extent) return std::nullopt;
      count *= extent;
    }
    return count;
  }

  static void store_u64_le(std::byte* out, std::uint64_t value) {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((value >> (8 * i)) & 0xffu);
  }

  template <class U>
  [[nodiscard]] static U load_le(const std::byte* p) {
    std::make_unsigned_t<U> bits = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i) {
      bits |= static_cast<std::make_unsigned_t<U>>(static_cast<std::make_unsigned_t<U>>(std::to_integer<unsigned>(p[i]))
                                                   << (8 * i));
    }
    return static_cast<U>(bits);
  }

  template <class T>
  [[nodiscard]] T element(dtype type, const std::byte* p, const std::string& field, std::size_t index) const {
    switch (type) {
      case dtype::boolean: {
        const auto b = std::to_integer<unsigned>(p[0]);
        if (b > 1) {
          error_location where = in_file(source_, field);
          throw io_error(where, "BOOL element " + std::to_string(index) + " has byte value " + std::to_string(b), "0 or 1");
        }
        return static_cast<T>(b);
      }
      case dtype::u8: return integer<T>(std::to_integer<std::uint8_t>(p[0]), field, index);
      case dtype::i8: return integer<T>(static_cast<std::int8_t>(std::to_integer<std::uint8_t>(p[0])), field, index);
      case dtype::i16: return integer<T>(load_le<std::int16_t>(p), field, index);
      case dtype::u16: return integer<T>(load_le<std::uint16_t>(p), field, index);
      case dtype::i32: return integer<T>(load_le<std::int32_t>(p), field, index);
      case dtype::u32: return integer<T>(load_le<std::uint32_t>(p), field, index);
      case dtype::i64: return integer<T>(load_le<std::int64_t>(p), field, index);
      case dtype::u64: return integer<T>(load_le<std::uint64_t>(p), field, index);
      case dtype::f16: return static_cast<T>(half_to_float(load_le<std::uint16_t>(p)));
      case dtype::bf16: return static_cast<T>(bfloat16_to_float(load_le<std::uint16_t>(p)));
      case dtype::f32: return static_cast<T>(std::bit_cast<float>(load_le<std::uint32_t>(p)));
      case dtype::f64: return static_cast<T>(std::bit_cast<double>(load_le<std::uint64_t>(p)));
    }
    return T{};
  }

  /// An integer element as T; integral T must hold the value exactly (no silent wrap).
  template <class T, class V>
  [[nodiscard]] T integer(V value, const std::string& field, std::size_t index) const {
    if constexpr (std::is_integral_v<T>) {
      if (!std::in_range<T>(value)) {
        throw io_error(in_file(source_, field),
                       "element " + std::to_string(index) + " = " + std::to_string(value) + " does not fit the requested integer type",
                       "values in [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
                           std::to_string(std::numeric_limits<T>::max()) + "]");
      }
    }
    return static_cast<T>(value);
  }

  [[noreturn]] static void fail(const std::string& source, std::string field, std::string problem,
                                std::string expected, std::optional<std::int64_t> byte_offset = std::nullopt) {
    error_location where = in_file(source, std::move(field));
    where.byte_offset = byte_offset;
    throw io_error(where, std::move(problem), std::move(expected));
  }

  [[nodiscard]] static safetensors from_bytes(std::vector<std::byte> bytes, std::string source) {
    const std::size_t file_size = bytes.size();
    if (file_size < 8) {
      fail(source, "header length", "file has " + std::to_string(file_size) + " bytes",
           "at least 8 bytes (the little-endian u64 header length)", 0);
    }
    const std::uint64_t header_length = load_le<std::uint64_t>(bytes.data());
    if (header_length > max_header_bytes) {
      fail(source, "header length", "header length " + std::to_string(header_length) + " is too large",
           "at most " + std::to_string(max_header_bytes) + " bytes", 0);
    }
    if (header_length > file_size - 8) {
      fail(source, "header length",
           "header length " + std::to_string(header_length) + " runs past the end of the " +
               std::to_string(file_size) + "-byte file (truncated?)",
           "at most " + std::to_string(file_size - 8), 0);
    }
    const char* head = reinterpret_cast<const char*>(bytes.data() + 8);
    const std::string_view header_text(head, static_cast<std::size_t>(header_length));
    if (header_text.empty() || header_text.front() != '{') {
      fail(source, "header", "JSON header does not start with '{'", "a JSON object", 8);
    }

    // Reject duplicate top-level names while parsing (a JSON object would keep only one).
    std::unordered_set<std::string> seen;
    std::string duplicate;
    nlohmann::json::parser_callback_t on_event = [&](int depth, nlohmann::json::parse_event_t event,
                                                     nlohmann::json& parsed) {
      if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string()) {
        if (!seen.insert(parsed.get<std::string>()).second && duplicate.empty()) duplicate = parsed.get<std::string>();
      }
      return true;
    };
    nlohmann::json h;
    try {
      h = nlohmann::json::parse(header_text.begin(), header_text.end(), on_event);
    } catch (const nlohmann::json::parse_error& e) {
      fail(source, "header", std::string("invalid JSON: ") + e.what(), "a UTF-8 JSON object",
           static_cast<std::int64_t>(8 + (e.byte > 0 ? e.byte - 1 : 0)));
    } catch (const nlohmann::json::exception& e) {
      // e.g. a number too large for any JSON number type (found by fuzz_safetensors)
      fail(source, "header", std::string("invalid JSON: ") + e.what(), "a UTF-8 JSON object with representable numbers", 8);
    }
    if (!h.is_object()) fail(source, "header", "JSON header is not an object", "a JSON object", 8);
    if (!duplicate.empty()) fail(source, duplicate, "name appears twice in the header", "unique tensor names", 8);

    safetensors out;
    out.source_ = source;
    const std::size_t data_start = 8 + static_cast<std::size_t>(header_length);
    const std::size_t data_size = file_size - data_start;

    struct span_info {
      std::size_t begin, end, index;
    };
    std::vector<span_info> spans;
    for (auto it = h.begin(); it != h.end(); ++it) {
      const std::string& name = it.key();
      const auto& value = it.value();
      if (name == "__metadata__") {
        if (!value.is_object()) fail(source, "__metadata__", "is not an object", "a map of string to string");
        for (auto m = value.begin(); m != value.end(); ++m) {
          if (!m.value().is_string()) {
            fail(source, "__metadata__." + m.key(), "metadata value is not a string", "a JSON string");
          }
          out.metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      if (!value.is_object()) fail(source, name, "tensor entry is not an object", "{\"dtype\", \"shape\", \"data_offsets\"}");
      const auto dtype_it = value.find("dtype");
      if (dtype_it == value.end() || !dtype_it->is_string()) {
        fail(source, name + ".dtype", "missing or not a string", "a dtype name such as \"F32\"");
      }
      const auto type = dtype_from_name(dtype_it->get<std::string>());
      if (!type) {
        fail(source, name + ".dtype", "unknown dtype \"" + dtype_it->get<std::string>() + "\"",
             "one of BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64");
      }
      const auto shape_it = value.find("shape");
      if (shape_it == value.end() || !shape_it->is_array()) {
        fail(source, name + ".shape", "missing or not an array", "an array of non-negative integers");
      }
      std::vector<std::size_t> shape;
      for (const auto& extent : *shape_it) {
        if (!extent.is_number_unsigned() || extent.get<std::uint64_t>() > std::numeric_limits<std::size_t>::max()) {
          fail(source, name + ".shape", "extent " + extent.dump() + " is not a non-negative integer",
               "an array of non-negative integers");
        }
        shape.push_back(static_cast<std::size_t>(extent.get<std::uint64_t>()));
      }
      const auto offsets_it = value.find("data_offsets");
      if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
          !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
        fail(source, name + ".data_offsets", "missing or not two non-negative integers", "[begin, end]");
      }
      const std::uint64_t begin = (*offsets_it)[0].get<std::uint64_t>();
      const std::uint64_t end = (*offsets_it)[1].get<std::uint64_t>();
      if (begin > end) {
        fail(source, name + ".data_offsets", "begin " + std::to_string(begin) + " is after end " + std::to_string(end),
             "begin <= end");
      }
      if (end > data_size) {
        fail(source, name + ".data_offsets",
             "end " + std::to_string(end) + " is beyond the " + std::to_string(data_size) + "-byte data section (truncated?)",
             "offsets within the data section");
      }
      const auto count = element_count(shape);
      const std::size_t width = dtype_size(*type);
      if (!count || *count > std::numeric_limits<std::size_t>::max() / width || *count * width != end - begin) {
        fail(source, name + ".shape",
             "shape " + shape_string(shape) + " of " + dtype_name(*type) + " does not match data_offsets [" +
                 std::to_string(begin) + ", " + std::to_string(end) + "]",
             std::to_string(end - begin) + " bytes = product of shape x " + std::to_string(width));
      }
      spans.push_back({static_cast<std::size_t>(begin), static_cast<std::size_t>(end), out.entries_.size()});
      out.index_.emplace(name, out.entries_.size());
      out.entries_.push_back(entry{name, *type, std::move(shape), data_start + static_cast<std::size_t>(begin),
                                   static_cast<std::size_t>(end - begin), *count});
    }

    // The tensors must tile the data section exactly, as the reference reader requires.
    std::sort(spans.begin(), spans.end(), [](const span_info& a, const span_info& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::size_t covered = 0;
    const std::string* previous = nullptr;
    for (const auto& s : spans) {
      const std::string& name = out.entries_[s.index].name;
      if (s.begin < covered) {
        fail(source, name + ".data_offsets",
             "bytes [" + std::to_string(s.begin) + ", " + std::to_string(s.end) + ") overlap tensor '" +
                 (previous ? *previous : std::string()) + "'",
             "non-overlapping tensors");
      }
      if (s.begin > covered) {
        fail(source, name + ".data_offsets",
             "bytes [" + std::to_string(covered) + ", " + std::to_string(s.begin) + ") before it belong to no tensor",
             "tensors stored back to back from offset 0");
      }
      covered = s.end;
      previous = &name;
    }
    if (covered != data_size) {
      fail(source, "data_offsets",
           "tensors cover " + std::to_string(covered) + " bytes but the data section has " + std::to_string(data_size),
           "no trailing bytes after the last tensor");
    }

    // Storage order = file order, offsets relative to the data section.
    std::vector<entry> ordered;
    ordered.reserve(spans.size());
    for (const auto& s : spans) ordered.push_back(std::move(out.entries_[s.index]));
    out.entries_ = std::move(ordered);
    out.index_.clear();
    for (std::size_t i = 0; i < out.entries_.size(); ++i) out.index_.emplace(out.entries_[i].name, i);
    out.data_ = std::move(bytes);  // kept whole: entry offsets point past the header
    return out;
  }

  std::string source_;
  std::vector<entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::byte> data_;
};

}  // namespace ecgssl::io

// libFuzzer target: the safetensors reader (include/ecgssl/io/safetensors.hpp). Any byte string
// must either parse or throw ecgssl::io_error; every tensor of a parsed file converts to double
// or throws io_error (a BOOL byte other than 0/1); a parsed file re-serialises to bytes that
// parse to the same tensors and metadata and serialise to the same bytes again. A failed check
// traps. Seeds: tests/data/io/checkpoints/*.safetensors (fuzz/run.sh copies them).
#include <ecgssl/io/safetensors.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ecgssl::io::safetensors;
  safetensors file;
  try {
    file = safetensors::parse(std::as_bytes(std::span<const std::uint8_t>(data, size)), "fuzz.safetensors");
  } catch (const ecgssl::io_error&) {
    return 0;
  }
  for (const auto& t : file.tensors()) {
    try {
      const auto values = file.values<double>(t.name);
      if (values.size() != t.element_count) __builtin_trap();
    } catch (const ecgssl::io_error&) {
      if (t.type != safetensors::dtype::boolean) __builtin_trap();
    }
  }
  std::vector<std::byte> image;
  try {
    image = file.serialize();
  } catch (const ecgssl::config_error&) {
    return 0;  // a name the JSON writer cannot encode; the reader accepted it, the writer refuses it
  }
  const auto again = safetensors::parse(image, "fuzz-again.safetensors");  // must not throw
  if (again.size() != file.size() || again.metadata() != file.metadata()) __builtin_trap();
  for (const auto& t : file.tensors()) {
    const auto u = again.tensor(t.name);
    if (u.type != t.type || !std::equal(u.shape.begin(), u.shape.end(), t.shape.begin(), t.shape.end()) ||
        !std::equal(u.bytes.begin(), u.bytes.end(), t.bytes.begin(), t.bytes.end())) {
      __builtin_trap();
    }
  }
  if (again.serialize() != image) __builtin_trap();
  return 0;
}

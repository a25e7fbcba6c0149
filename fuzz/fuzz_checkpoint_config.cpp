// libFuzzer target: a checkpoint's "ecgssl.config" (model/encoder_config.hpp), the JSON every
// embed, finetune, evaluate and predict trusts to size the model. Any byte string must parse to
// options within the stated limits or throw ecgssl::config_error; options that load write a
// canonical form that reads back to the same options. A failed check traps.
// Seeds: the configurations of tests/data/io/*/ checkpoints and both forms (fuzz/run.sh).
#include <ecgssl/model/encoder_config.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ecgssl::model::encoder_config;
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  ecgssl::model::ecg_transformer_options o;
  try {
    o = encoder_config::from_checkpoint_config(j, "fuzz.safetensors");
  } catch (const ecgssl::config_error&) {
    return 0;
  }
  if (o.embed_dim == 0 || o.heads == 0 || o.embed_dim % o.heads != 0 || o.layers > 256 || o.embed_dim > 8192) __builtin_trap();
  nlohmann::json canonical = nlohmann::json::object();
  encoder_config::write_checkpoint_config(canonical, o);
  const auto again = encoder_config::from_checkpoint_config(canonical, "fuzz-again");  // must not throw
  if (encoder_config::to_json(again) != encoder_config::to_json(o)) __builtin_trap();
  return 0;
}

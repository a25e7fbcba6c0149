#include <ecgssl/optim/parameter_group.hpp>

#include <doctest/doctest.h>

using namespace ecgssl;

TEST_CASE("parameter_group selects by name prefix or predicate") {
  parameter_entry conv{"feature_extractor.conv_layers.0.0.weight", {256, 12, 2}, 0, 6144, {}};
  parameter_entry norm{"encoder.layer_norm.bias", {768}, 0, 768, {false, true}};
  parameter_group cnn;
  cnn.prefixes = {"feature_extractor."};
  CHECK(cnn.selects(conv));
  CHECK(!cnn.selects(norm));
  parameter_group no_decay;
  no_decay.predicate = [](const parameter_entry& e) { return !e.attributes.weight_decay; };
  CHECK(no_decay.selects(norm));
  CHECK(!no_decay.selects(conv));
  parameter_group none;
  CHECK(!none.selects(conv));
}

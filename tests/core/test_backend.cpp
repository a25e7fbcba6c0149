#include <ecgssl/core/backend.hpp>
#include <ecgssl/core/config.hpp>

#include <doctest/doctest.h>

#include <string>

namespace {
struct double_op {};
}  // namespace

template <>
struct ecgssl::implementation<double_op, ecgssl::host> {
  static int run(int x) { return 2 * x; }
};

static_assert(ecgssl::backend<ecgssl::host>);
static_assert(ecgssl::backend<ecgssl::cuda>);
static_assert(!ecgssl::backend<int>);
static_assert(ecgssl::has_implementation<double_op, ecgssl::host>::value);
static_assert(!ecgssl::has_implementation<double_op, ecgssl::cuda>::value);

TEST_CASE("specialisations are selected by backend tag") {
  CHECK(ecgssl::implementation_t<double_op, ecgssl::host>::run(21) == 42);
  CHECK(std::string(ecgssl::host::name) == "host");
  ECGSSL_ASSERT(1 + 1 == 2, "arithmetic");
}

// Must NOT compile: asks for the CUDA implementation of an operation that only has a host one.
#include <ecgssl/core/backend.hpp>

struct scale_op {};
template <>
struct ecgssl::implementation<scale_op, ecgssl::host> {
  static int run(int x) { return 2 * x; }
};

int main() { return ecgssl::implementation_t<scale_op, ecgssl::cuda>::run(1); }

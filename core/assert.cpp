#include "core/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace lifeline {

void assertion_failed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "lifeline: invariant broken: %s (%s:%d)\n", condition, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace lifeline

// Forbidden (docs/DESIGN.md): runtime/ includes sim/. Must not compile.
#include "sim/rng.hpp"

int layering_probe() {
  return 0;
}

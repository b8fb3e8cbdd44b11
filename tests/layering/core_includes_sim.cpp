// Forbidden (docs/DESIGN.md): core/ includes sim/. Must not compile.
#include "sim/world.hpp"

int layering_probe() {
  return 0;
}

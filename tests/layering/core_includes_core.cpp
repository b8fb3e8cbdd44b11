// Allowed: core/ includes core/.
#include "core/ports.hpp"

int layering_probe_core() {
  return 0;
}

// Allowed: sim/ includes sim/ and core/.
#include "core/ports.hpp"
#include "sim/rng.hpp"

int layering_probe_sim() {
  return 0;
}

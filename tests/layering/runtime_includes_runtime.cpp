// Allowed: runtime/ includes runtime/ and core/.
#include "core/ports.hpp"
#include "runtime/common/proc_info.hpp"

int layering_probe_runtime() {
  return 0;
}

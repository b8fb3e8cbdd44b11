// Forbidden (docs/DESIGN.md): core/ includes runtime/. Must not compile.
#include "runtime/common/proc_info.hpp"

int layering_probe() {
  return 0;
}

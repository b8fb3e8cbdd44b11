// Forbidden (docs/DESIGN.md): sim/ includes runtime/. Must not compile.
#include "runtime/common/proc_info.hpp"

int layering_probe() {
  return 0;
}

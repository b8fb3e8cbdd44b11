// The installed gateway's fault points: none (docs/DESIGN.md rule 14). No point names,
// no libfiu, no planted bugs are linked into it; see faults.hpp.
#include "runtime/gateway/faults.hpp"

namespace lifeline::runtime {

std::string init_faults(const std::string& spec, Log& log) {
  if (!spec.empty())
    log.write(LogLevel::warn,
              "LIFELINE_FAULTS is set, but this build has no fault points; ignored");
  return "";
}

bool fault(Fault) {
  return false;
}

}  // namespace lifeline::runtime

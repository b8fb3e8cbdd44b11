#define FIU_ENABLE 1
#include "runtime/gateway/faults.hpp"

#include <fiu-control.h>
#include <fiu.h>

#include <cstdlib>
#include <vector>

namespace lifeline::runtime {

namespace {
// In Fault's order.
constexpr const char* all_points[fault_count] = {"lifeline/spawn/pipe",
                                                 "lifeline/spawn/fork",
                                                 "lifeline/spawn/pidfd",
                                                 "lifeline/write",
                                                 "lifeline/read",
                                                 "lifeline/store/start",
                                                 "lifeline/store/end",
                                                 "lifeline/store/append",
                                                 "lifeline/store/read",
                                                 "lifeline/plant/leak-fd",
                                                 "lifeline/plant/drop-reply"};
}  // namespace

std::string init_faults(const std::string& spec, Log& log) {
  static const bool initialised = fiu_init(0) == 0;
  if (!initialised) {
    log.write(LogLevel::warn, "LIFELINE_FAULTS: libfiu did not initialise; no faults");
    return "";
  }
  // Every point, and every name or wildcard ("lifeline/store/*") enabled before: a
  // wildcard is its own entry in libfiu, not the points it matches.
  static std::vector<std::string> enabled_names;
  for (const char* point : all_points) fiu_disable(point);  // -1 when it was off: fine
  for (const auto& name : enabled_names) fiu_disable(name.c_str());
  enabled_names.clear();
  std::string enabled;
  std::size_t start = 0;
  while (start < spec.size()) {
    std::size_t comma = spec.find(',', start);
    std::string item =
        spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? spec.size() : comma + 1;
    if (item.empty()) continue;
    std::string name = item;
    float probability = 1.0f;
    if (auto eq = item.find('='); eq != std::string::npos) {
      name = item.substr(0, eq);
      char* end = nullptr;
      probability = std::strtof(item.c_str() + eq + 1, &end);
      if (!end || *end || !(probability > 0.0f && probability <= 1.0f)) {
        log.write(LogLevel::warn,
                  "LIFELINE_FAULTS: ignoring '" + item + "' (probability must be in (0, 1])");
        continue;
      }
    }
    int rc = probability >= 1.0f ? fiu_enable(name.c_str(), 1, nullptr, 0)
                                 : fiu_enable_random(name.c_str(), 1, nullptr, 0, probability);
    if (rc != 0) {
      log.write(LogLevel::warn, "LIFELINE_FAULTS: could not enable '" + name + "'");
      continue;
    }
    enabled_names.push_back(name);
    enabled += (enabled.empty() ? "" : ", ") + item;
  }
  return enabled;
}

bool fault(Fault point) {
  return fiu_fail(all_points[static_cast<int>(point)]) != 0;
}

}  // namespace lifeline::runtime

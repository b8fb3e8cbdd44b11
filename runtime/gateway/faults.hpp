// Named fault points (libfiu) in the runtime's syscall and SQLite wrappers. Tests
// enable them through LIFELINE_FAULTS, a comma-separated list of NAME or
// NAME=PROBABILITY (e.g. "lifeline/spawn/fork,lifeline/store/append=0.5"); without
// it every point is off and costs one branch. Names: lifeline/spawn/pipe,
// lifeline/spawn/fork, lifeline/spawn/pidfd, lifeline/write, lifeline/read,
// lifeline/store/start, lifeline/store/end, lifeline/store/append, lifeline/store/read.
//
// Two more points are planted bugs, never faults of the world: lifeline/plant/leak-fd
// (every accepted socket leaks a duplicate fd) and lifeline/plant/drop-reply (replies
// are dropped unsent). They exist so that lifeline-soak's audits can be shown to catch
// a real gateway that leaks (tests/integration/test_soak.py); never enable them
// otherwise.
//
// SIGHUP re-reads LIFELINE_FAULTS (from --env-file): every point is disabled (and every
// name or wildcard enabled before), then the new list is enabled. lifeline-soak opens
// and closes fault windows that way.
//
// docs/DESIGN.md rule 14: fault points exist only in test builds. Call sites name a
// point by enum; its name, libfiu and the planted bugs live in faults.cpp alone, which
// only the test build (lifeline-gateway in the build tree) links. The installed and
// packaged gateway links faults_off.cpp instead: fault() is false, and LIFELINE_FAULTS
// is refused with a warning.
#pragma once

#include <string>

#include "core/ports.hpp"

namespace lifeline::runtime {

enum class Fault {
  spawn_pipe,
  spawn_fork,
  spawn_pidfd,
  write,
  read,
  store_start,
  store_end,
  store_append,
  store_read,
  plant_leak_fd,
  plant_drop_reply,
};
inline constexpr int fault_count = 11;
static_assert(static_cast<int>(Fault::plant_drop_reply) + 1 == fault_count);

// Returns what was enabled, for the log ("" when nothing).
// Disables every point first, so that calling it again replaces the set.
std::string init_faults(const std::string& spec, Log& log);
bool fault(Fault point);

}  // namespace lifeline::runtime

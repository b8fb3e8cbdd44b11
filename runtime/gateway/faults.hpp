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
// SIGHUP re-reads LIFELINE_FAULTS (from --env-file): every point is disabled, then the
// new list is enabled. lifeline-soak opens and closes fault windows that way.
#pragma once

#include <string>

#include "core/ports.hpp"

namespace lifeline::runtime {

// Returns what was enabled, for the log ("" when nothing).
// Disables every point first, so that calling it again replaces the set.
std::string init_faults(const std::string& spec, Log& log);
bool fault(const char* name);

}  // namespace lifeline::runtime

// Named fault points (libfiu) in the runtime's syscall and SQLite wrappers. Tests
// enable them through LIFELINE_FAULTS, a comma-separated list of NAME or
// NAME=PROBABILITY (e.g. "lifeline/spawn/fork,lifeline/store/append=0.5"); without
// it every point is off and costs one branch. Names: lifeline/spawn/pipe,
// lifeline/spawn/fork, lifeline/spawn/pidfd, lifeline/write, lifeline/read,
// lifeline/store/start, lifeline/store/end, lifeline/store/append, lifeline/store/read.
#pragma once

#include <string>

#include "core/ports.hpp"

namespace lifeline::runtime {

// Returns what was enabled, for the log ("" when nothing).
std::string init_faults(const std::string& spec, Log& log);
bool fault(const char* name);

}  // namespace lifeline::runtime

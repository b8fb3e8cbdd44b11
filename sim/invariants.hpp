// The invariants of DESIGN.md, checked against a gateway core and its simulated
// world. Each returns the list of violations (empty: all hold).
#pragma once

#include <string>
#include <vector>

#include "core/gateway.hpp"
#include "sim/manual_world.hpp"

namespace lifeline::sim {

// The child is the worker or a PTY of a session that is still live: the one rule of
// ownership both the manual-world checks and simrun's world apply.
bool owned_by_live_session(const Gateway& gw, const ChildInfo& c);

// After every event.
std::vector<std::string> check_safety(const Gateway& gw, const FakeProcesses& procs,
                                      const FakeStore& store);

// After faults stop and the world settled (no spawn pending, timers run out).
std::vector<std::string> check_settled(const Gateway& gw, const FakeProcesses& procs);

}  // namespace lifeline::sim

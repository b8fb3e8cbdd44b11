// The invariants of DESIGN.md, checked against a gateway core and its simulated
// world. Each returns the list of violations (empty: all hold).
#pragma once

#include <string>
#include <vector>

#include "core/gateway.hpp"
#include "sim/manual_world.hpp"

namespace lifeline::sim {

// After every event.
std::vector<std::string> check_safety(const Gateway& gw, const FakeProcesses& procs,
                                      const FakeStore& store);

// After faults stop and the world settled (no spawn pending, timers run out).
std::vector<std::string> check_settled(const Gateway& gw, const FakeProcesses& procs);

}  // namespace lifeline::sim

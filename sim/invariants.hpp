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

// DESIGN.md's end-reason oracle, at the moment a teardown starts: a session whose
// client is connected ends only by client_close or shutdown (so a resumed one never by
// orphan_grace); a busy one never by idle_timeout or lru_evict. "" when consistent.
std::string check_end_reason(const Session& s, EndReason reason, bool client_connected);

// After every event.
std::vector<std::string> check_safety(const Gateway& gw, const FakeProcesses& procs,
                                      const FakeStore& store);

// After faults stop and the world settled (no spawn pending, timers run out).
std::vector<std::string> check_settled(const Gateway& gw, const FakeProcesses& procs);

}  // namespace lifeline::sim

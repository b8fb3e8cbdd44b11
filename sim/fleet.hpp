// simrun's fleet world (docs/DESIGN.md rule 15): two or three gateway cores sharing one
// simulated store with leases and claims, each on a clock of its own (its rate within
// 5% of true time), clients that move between gateways and follow 4011 redirects,
// store latency, partitions that cut a gateway off the store for up to twice its lease,
// and instance deaths without restart. After every event it checks the fleet's four
// invariants: at most one live session per history across the fleet; a gateway never
// serves a session whose lease it lost; no acknowledged entry is lost across a claim;
// and, once the world settles, a lost instance's sessions are ended exactly once and
// its histories can be claimed. The gateways run the real core over the hand-driven
// fakes of sim/manual_world.hpp for processes and transport.
#pragma once

#include <cstdint>
#include <string>

#include "sim/world.hpp"

namespace lifeline::sim {

// Whether this seed runs the fleet world (a fifth of all seeds) rather than the one-host
// world.
bool fleet_seed(std::uint64_t seed);

// Runs seed's fleet; the result names a catalogue entry when an invariant failed.
RunResult run_fleet(std::uint64_t seed);

// One line: the fleet this seed draws (gateways, lease, latency, skew).
std::string describe_fleet(std::uint64_t seed);

}  // namespace lifeline::sim

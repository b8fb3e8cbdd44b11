// The catalogue (sim/catalogue.hpp) run over a ManualWorld, for the unit tests, the
// rapidcheck model test and the fuzzers. Each returns every violation, as
// "<invariant>: <detail>" (empty: all hold).
#pragma once

#include <string>
#include <vector>

#include "core/gateway.hpp"
#include "sim/catalogue.hpp"
#include "sim/manual_world.hpp"

namespace lifeline::sim {

// After every event.
std::vector<std::string> check_safety(const Gateway& gw, const FakeProcesses& procs,
                                      const FakeStore& store);

// After the world settled (no spawn pending, tasks drained). ManualWorld's timers do not
// run out on their own, so the grace entries hold vacuously here.
std::vector<std::string> check_settled(const Gateway& gw, const FakeProcesses& procs,
                                       const FakeStore& store);

}  // namespace lifeline::sim

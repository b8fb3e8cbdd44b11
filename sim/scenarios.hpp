// Named, deterministic regression scenarios: one (at least) per historical failure mode
// of docs/DESIGN.md. Each is a fixed schedule on a fixed configuration, checked by every
// invariant plus its own expectation that the race it is about really happened.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "sim/swarm.hpp"
#include "sim/world.hpp"

namespace lifeline::sim {

struct Scenario {
  std::string name;
  std::string description;
  std::uint64_t seed = 1;
  SwarmConfig config;
  std::vector<Step> steps;
  std::function<std::string(const World&)> expect;  // at the end; "" when it holds
};

const std::vector<Scenario>& scenarios();
const Scenario* find_scenario(const std::string& name);
RunResult run_scenario(const Scenario& s, std::ostream* trace_out = nullptr);

}  // namespace lifeline::sim

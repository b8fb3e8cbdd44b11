// Delta debugging (Zeller's ddmin) over a failing run's schedule: removes chunks of
// steps, keeps any smaller schedule that still fails the same invariant, and stops at
// a 1-minimal one (removing any single remaining step makes the failure go away).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sim/swarm.hpp"
#include "sim/world.hpp"

namespace lifeline::sim {

struct Reproduction {
  std::uint64_t seed = 0;
  SwarmConfig config;
  std::vector<Step> steps;
  std::string invariant;  // what it fails (empty: expected to pass)
  Json to_json() const;
  static std::optional<Reproduction> from_json(const Json& j, std::string* why);
};

RunResult run_once(std::uint64_t seed, const SwarmConfig& config, const std::vector<Step>& steps,
                   WorldOptions options = {});

struct MinimizeStats {
  int runs = 0;
  std::size_t from = 0;
  std::size_t to = 0;
};

using Runner = std::function<RunResult(const std::vector<Step>&)>;

// `failing` must fail; returns the 1-minimal schedule failing the same invariant.
// `run` plays one candidate (simrun runs each in a child process, so that a crash of
// the core - an assertion - is a failure like any other rather than the end).
std::vector<Step> minimize(const Runner& run, std::vector<Step> failing,
                           const std::string& invariant, MinimizeStats* stats,
                           const std::function<void(std::size_t)>& progress = {});

}  // namespace lifeline::sim

// Prometheus text for GET /metrics: the core's own counters, the process's standard
// metrics, the admission counters and the configured limits (docs/PROTOCOL.md section 6).
#pragma once

#include <map>
#include <string>

#include "core/gateway.hpp"

namespace lifeline::runtime {

// What the shell knows that the core does not.
struct ShellFacts {
  std::int64_t open_fds = 0;
  std::size_t strays_killed = 0;
  std::size_t connections = 0;                        // client connections open now
  std::map<std::string, std::int64_t> auth_failures;  // by reason
};

std::string render_metrics(const Gateway& gw, const ShellFacts& shell);

}  // namespace lifeline::runtime

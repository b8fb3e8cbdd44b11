// Prometheus text for GET /metrics, from the core's own counters.
#pragma once

#include <string>

#include "core/gateway.hpp"

namespace lifeline::runtime {

std::string render_metrics(const Gateway& gw, std::int64_t open_fds, std::size_t strays_killed);

}  // namespace lifeline::runtime

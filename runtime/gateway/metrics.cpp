#include "runtime/gateway/metrics.hpp"

#include <map>

namespace lifeline::runtime {

std::string render_metrics(const Gateway& gw, std::int64_t open_fds, std::size_t strays_killed) {
  std::map<std::string, int> by_status{
      {"idle", 0}, {"working", 0}, {"starting", 0}, {"detached", 0}};
  for (const auto& s : gw.sessions()) ++by_status[to_string(s->status())];
  std::string out;
  out += "# HELP lifeline_sessions Live sessions by status.\n# TYPE lifeline_sessions gauge\n";
  for (const auto& [status, n] : by_status)
    out += "lifeline_sessions{status=\"" + status + "\"} " + std::to_string(n) + "\n";
  out +=
      "# HELP lifeline_children Child processes the gateway owns.\n# TYPE lifeline_children "
      "gauge\n";
  out += "lifeline_children{kind=\"slash\"} " +
         std::to_string(gw.children().count(ChildKind::slash)) + "\n";
  out += "lifeline_children{kind=\"pty\"} " + std::to_string(gw.children().count(ChildKind::pty)) +
         "\n";
  out +=
      "# HELP lifeline_open_fds Open file descriptors of the gateway.\n# TYPE lifeline_open_fds "
      "gauge\n";
  out += "lifeline_open_fds " + std::to_string(open_fds) + "\n";
  out +=
      "# HELP lifeline_sessions_ended_total Sessions torn down, by reason.\n# TYPE "
      "lifeline_sessions_ended_total counter\n";
  for (int i = 0; i < end_reason_count; ++i)
    out += std::string("lifeline_sessions_ended_total{reason=\"") +
           to_string(static_cast<EndReason>(i)) + "\"} " +
           std::to_string(gw.counters().ended(static_cast<EndReason>(i))) + "\n";
  out +=
      "# HELP lifeline_spawn_failures_total Worker or terminal spawns that failed.\n# TYPE "
      "lifeline_spawn_failures_total counter\n";
  out += "lifeline_spawn_failures_total " + std::to_string(gw.counters().spawn_failures) + "\n";
  out +=
      "# HELP lifeline_strays_killed_total Escaped grandchildren killed after reparenting to the "
      "gateway.\n# TYPE lifeline_strays_killed_total counter\n";
  out += "lifeline_strays_killed_total " + std::to_string(strays_killed) + "\n";
  const LatencyHistogram& h = gw.children().termination_latency();
  out +=
      "# HELP lifeline_child_termination_ms From the decision to end a child (session close, "
      "disconnect, reset, shutdown) to its whole tree reaped, in milliseconds.\n# TYPE "
      "lifeline_child_termination_ms histogram\n";
  std::int64_t cumulative = 0;
  for (std::size_t i = 0; i < LatencyHistogram::bounds.size(); ++i) {
    cumulative += h.in_bucket(i);
    out += "lifeline_child_termination_ms_bucket{le=\"" +
           std::to_string(LatencyHistogram::bounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += "lifeline_child_termination_ms_bucket{le=\"+Inf\"} " + std::to_string(h.count()) + "\n";
  out += "lifeline_child_termination_ms_sum " + std::to_string(h.sum()) + "\n";
  out += "lifeline_child_termination_ms_count " + std::to_string(h.count()) + "\n";
  return out;
}

}  // namespace lifeline::runtime

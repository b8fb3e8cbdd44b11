#include "runtime/gateway/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace lifeline::runtime {

namespace {

class Out {
 public:
  void family(const char* name, const char* type, const char* help) {
    text_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string& name, double value, const std::string& labels = "") {
    char num[64];
    std::snprintf(num, sizeof num, "%.17g", value);
    text_ += name + (labels.empty() ? "" : "{" + labels + "}") + " " + num + "\n";
  }
  // A millisecond histogram, rendered in seconds (the Prometheus convention).
  void histogram_seconds(const std::string& name, const LatencyHistogram& h,
                         const std::string& labels = "") {
    std::string prefix = labels.empty() ? "" : labels + ",";
    std::int64_t cumulative = 0;
    for (std::size_t i = 0; i < LatencyHistogram::bounds.size(); ++i) {
      cumulative += h.in_bucket(i);
      char le[32];
      std::snprintf(le, sizeof le, "%g", static_cast<double>(LatencyHistogram::bounds[i]) / 1000.0);
      sample(name + "_bucket", static_cast<double>(cumulative), prefix + "le=\"" + le + "\"");
    }
    sample(name + "_bucket", static_cast<double>(h.count()), prefix + "le=\"+Inf\"");
    sample(name + "_sum", static_cast<double>(h.sum()) / 1000.0, labels);
    sample(name + "_count", static_cast<double>(h.count()), labels);
  }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

std::string label(const char* key, const std::string& value) {
  return std::string(key) + "=\"" + value + "\"";
}

// The standard process metrics (the Prometheus client libraries' names), from /proc.
void process_metrics(Out& out, std::int64_t open_fds) {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  auto close_paren = stat.rfind(')');
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double cpu = 0, start_after_boot = 0, rss_pages = 0;
  if (close_paren != std::string::npos && ticks > 0) {
    std::istringstream fields(stat.substr(close_paren + 2));
    std::string f;
    for (int i = 3; fields >> f; ++i) {                     // field 3 is the state
      if (i == 14 || i == 15) cpu += std::stod(f) / ticks;  // utime, stime
      if (i == 22) start_after_boot = std::stod(f) / ticks;
      if (i == 24) rss_pages = std::stod(f);
    }
  }
  double boot = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string key; proc_stat >> key;) {
    if (key == "btime") {
      proc_stat >> boot;
      break;
    }
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  out.family("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
  out.sample("process_cpu_seconds_total", cpu);
  out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out.sample("process_resident_memory_bytes",
             rss_pages * static_cast<double>(sysconf(_SC_PAGESIZE)));
  out.family("process_open_fds", "gauge", "Number of open file descriptors.");
  out.sample("process_open_fds", static_cast<double>(open_fds));
  out.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
  out.sample("process_max_fds", static_cast<double>(rl.rlim_cur));
  out.family("process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.");
  out.sample("process_start_time_seconds", boot + start_after_boot);
}

// Resident bytes of a process (/proc/PID/statm's second field), 0 when it is gone.
double rss_bytes(int pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  double size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// The warm pool (docs/DESIGN.md rule 18): its size, its target, and what its idle
// workers cost in memory (the sum, and the largest, for the 2 MiB budget per worker).
void pool_metrics(Out& out, const Gateway& gw) {
  double sum = 0, largest = 0;
  for (ChildId id : gw.pooled()) {
    const ChildInfo* info = gw.children().find(id);
    double rss = info ? rss_bytes(info->pid) : 0;
    sum += rss;
    largest = std::max(largest, rss);
  }
  out.family("lifeline_worker_pool_size", "gauge", "Slash workers started and not yet taken.");
  out.sample("lifeline_worker_pool_size", static_cast<double>(gw.pooled().size()));
  out.family("lifeline_worker_pool_target", "gauge",
             "--worker-pool: the size the pool refills to.");
  out.sample("lifeline_worker_pool_target", static_cast<double>(gw.config().worker_pool));
  out.family("lifeline_worker_pool_resident_bytes", "gauge",
             "Resident memory of the pooled workers, summed.");
  out.sample("lifeline_worker_pool_resident_bytes", sum);
  out.family("lifeline_worker_pool_resident_max_bytes", "gauge",
             "Resident memory of the largest pooled worker.");
  out.sample("lifeline_worker_pool_resident_max_bytes", largest);
}

}  // namespace

std::string render_metrics(const Gateway& gw, const ShellFacts& shell) {
  Out out;
  out.family("lifeline_build_info", "gauge", "The gateway's version, as a label.");
  out.sample("lifeline_build_info", 1, label("version", version));
  process_metrics(out, shell.open_fds);

  std::map<std::string, int> by_status{
      {"idle", 0}, {"working", 0}, {"starting", 0}, {"detached", 0}};
  for (const auto& s : gw.sessions()) ++by_status[to_string(s->status())];
  out.family("lifeline_sessions", "gauge", "Live sessions by status.");
  for (const auto& [status, n] : by_status)
    out.sample("lifeline_sessions", n, label("status", status));
  out.family("lifeline_sessions_created_total", "counter",
             "Sessions created (resumes from the store included).");
  out.sample("lifeline_sessions_created_total",
             static_cast<double>(gw.counters().sessions_created));
  out.family("lifeline_sessions_ended_total", "counter", "Sessions ended, by reason.");
  for (int i = 0; i < end_reason_count; ++i)
    out.sample("lifeline_sessions_ended_total",
               static_cast<double>(gw.counters().ended(static_cast<EndReason>(i))),
               label("reason", to_string(static_cast<EndReason>(i))));
  out.family("lifeline_lease_current", "gauge",
             "1 while this gateway may serve sessions: its lease on a shared store is current "
             "(always 1 with an unshared store).");
  out.sample("lifeline_lease_current", gw.lease_current() ? 1 : 0);
  out.family("lifeline_connections", "gauge", "Client connections open now.");
  out.sample("lifeline_connections", static_cast<double>(shell.connections));
  out.family("lifeline_children", "gauge", "Child processes the gateway owns.");
  out.sample("lifeline_children", static_cast<double>(gw.children().count(ChildKind::slash)),
             label("kind", "slash"));
  out.sample("lifeline_children", static_cast<double>(gw.children().count(ChildKind::pty)),
             label("kind", "pty"));
  pool_metrics(out, gw);
  out.family("lifeline_open_fds", "gauge", "Open file descriptors of the gateway.");
  out.sample("lifeline_open_fds", static_cast<double>(shell.open_fds));

  out.family("lifeline_requests_total", "counter",
             "Requests answered, by method and outcome (ok or the error code).");
  for (const auto& [key, n] : gw.counters().requests)
    out.sample("lifeline_requests_total", static_cast<double>(n),
               label("method", key.first) + "," + label("outcome", key.second));
  out.family("lifeline_request_duration_seconds", "histogram",
             "From a request's arrival to its answer, by method.");
  for (const auto& [method, h] : gw.counters().request_ms)
    out.histogram_seconds("lifeline_request_duration_seconds", h, label("method", method));
  out.family("lifeline_auth_failures_total", "counter", "Refused authentications, by reason.");
  for (const auto& [reason, n] : shell.auth_failures)
    out.sample("lifeline_auth_failures_total", static_cast<double>(n), label("reason", reason));

  out.family("lifeline_spawn_failures_total", "counter", "Worker or terminal spawns that failed.");
  out.sample("lifeline_spawn_failures_total", static_cast<double>(gw.counters().spawn_failures));
  out.family("lifeline_strays_killed_total", "counter",
             "Escaped grandchildren killed after reparenting to the gateway.");
  out.sample("lifeline_strays_killed_total", static_cast<double>(shell.strays_killed));
  out.family("lifeline_child_termination_seconds", "histogram",
             "From the decision to end a child (close, disconnect, reset, shutdown) to its whole "
             "tree reaped.");
  out.histogram_seconds("lifeline_child_termination_seconds", gw.children().termination_latency());

  // The configured limits, so that dashboards can graph saturation against them.
  const GatewayConfig& c = gw.config();
  out.family("lifeline_limit", "gauge",
             "Configured limits, by name (the flag without its dashes).");
  for (const auto& [name, value] : std::map<std::string, std::int64_t>{
           {"max_sessions", c.max_sessions},
           {"max_sessions_per_connection", c.max_sessions_per_connection},
           {"max_connections", c.max_connections},
           {"max_ptys", c.max_ptys},
           {"max_message_bytes", c.max_message_bytes},
           {"max_reply_bytes", c.max_reply_bytes},
           {"max_unsent_bytes", c.max_unsent_bytes},
           {"max_pending_input_bytes", c.max_pending_input_bytes},
           {"session_pids_max", c.session_pids_max}})
    out.sample("lifeline_limit", static_cast<double>(value), label("name", name));
  return out.take();
}

}  // namespace lifeline::runtime

// The process audit: which processes trace back to the soak's gateways, and which of
// them nobody owns any more. It reads /proc only and never asks the gateway.
//
// A process is the soak's when any of these holds:
// - its ancestry reaches the soak (the soak is a subreaper: a SIGKILLed gateway's
//   orphans come to it), outside the helpers it runs itself (nginx);
// - its environment carries the soak's marker HOME (the gateway passes HOME to every
//   child, so a process that setsid()s and double-forks away still carries it);
// - it is in the cgroup the soak's gateway makes for its children;
// - it is a zombie whose parent is the soak's.
// It is *owned* while its ancestry reaches the live gateway. An unowned live process, or
// a zombie whose parent is the gateway or nobody's, seen for longer than the settle time
// is a leak (a zombie whose parent is an owned program is that program's to reap).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace lifeline::soak {

struct ProcessSample {
  int processes = 0;  // the soak's, the gateway itself excluded
  int owned = 0;      // under the live gateway
  int unowned = 0;    // live, but nobody's
  int zombies = 0;
  std::vector<std::string> leaked_now;  // "pid comm (why)" of the confirmed leaks now
};

class ProcessAudit {
 public:
  // marker_env: e.g. "HOME=/tmp/lifeline-soak-1/home"; cgroup_dir: the gateway's
  // children's cgroup ("" when none).
  ProcessAudit(int soak_pid, std::string marker_env, std::string cgroup_dir);

  // gateway_pid: the live gateway (0 when none); helpers: processes (with their
  // descendants) that are the soak's tools, not the gateway's children.
  // settle_s: how long an unowned process or a zombie may be seen before it counts as a
  // leak (the end of the run, with no gateway left, uses 0).
  ProcessSample sample(double now_s, int gateway_pid, const std::set<int>& helpers,
                       double settle_s);

  // Distinct processes and zombies ever confirmed leaked.
  std::int64_t leaked_processes() const { return static_cast<std::int64_t>(leaked_.size()); }
  std::int64_t leaked_zombies() const { return static_cast<std::int64_t>(leaked_zombies_.size()); }

  // Further live gateways of a fleet (--gateways 2): their children are owned as the
  // first one's are.
  void set_other_gateways(std::set<int> pids) { others_ = std::move(pids); }

  // Every live process of the soak's (gateways excluded): what the final clean-up kills.
  std::vector<int> all_pids(const std::set<int>& helpers);

 private:
  using Key = std::pair<int, std::uint64_t>;  // pid, start time: immune to pid reuse
  int soak_pid_;
  std::string marker_;
  std::string cgroup_dir_;
  std::set<int> others_;
  std::map<Key, double> first_seen_unowned_;
  std::map<Key, double> first_seen_zombie_;
  std::set<Key> leaked_;
  std::set<Key> leaked_zombies_;
};

}  // namespace lifeline::soak

// Small readers of /proc, shared by the worker and the gateway.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/proc_stat.hpp"

namespace lifeline::runtime {

using lifeline::ProcStat;

std::optional<ProcStat> read_proc_stat(int pid);  // parse_proc_stat of /proc/<pid>/stat
std::vector<int> list_fds();                      // this process's open fds, ascending
std::int64_t count_fds();
std::vector<int> pids_in_group(int pgid);                 // every live process whose pgid matches
std::vector<int> children_of(int pid);                    // from /proc/<pid>/task/*/children
std::vector<ProcStat> process_table();                    // every process /proc shows, as it is now
std::vector<int> cgroup_members(const std::string& dir);  // <dir>/cgroup.procs

// The cgroup v2 mount point ("" if none) and this process's cgroup v2 path ("/..."),
// joined: the directory of our own cgroup, or "" when there is no cgroup v2.
// Where cgroup v2 is mounted ("" when it is not).
std::string cgroup2_mount_point();
std::string own_cgroup2_dir();
// "lifeline-<tag>": the cgroup a gateway of this state dir (as given on its command line)
// makes under its own, so that a successor, and lifeline-soak's audits, can find it.
std::string gateway_cgroup_name(const std::string& state_dir);

}  // namespace lifeline::runtime

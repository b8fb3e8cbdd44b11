#include "runtime/soak/process_audit.hpp"

#include <fstream>
#include <iterator>
#include <unordered_map>

#include "runtime/common/proc_info.hpp"

namespace lifeline::soak {

namespace {

bool environ_has(int pid, const std::string& entry) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t at = 0;
  while (at < all.size()) {
    std::size_t end = all.find('\0', at);
    if (end == std::string::npos) end = all.size();
    if (all.compare(at, end - at, entry) == 0) return true;
    at = end + 1;
  }
  return false;
}

bool in_cgroup(int pid, const std::string& dir) {
  if (dir.empty()) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) {
      // dir is absolute (mount point + path); compare the path's tail.
      std::string path = line.substr(3);
      auto slash = dir.rfind("/lifeline-");
      return slash != std::string::npos && path.find(dir.substr(slash)) != std::string::npos;
    }
  return false;
}

std::string comm_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string c;
  std::getline(in, c);
  return c;
}

struct Table {
  std::unordered_map<int, runtime::ProcStat> by_pid;
  // True when pid's ancestry (pid itself included) reaches root.
  bool reaches(int pid, int root) const {
    for (int hops = 0; pid > 1 && hops < 4096; ++hops) {
      if (pid == root) return true;
      auto it = by_pid.find(pid);
      if (it == by_pid.end()) return false;
      pid = it->second.ppid;
    }
    return false;
  }
};

}  // namespace

ProcessAudit::ProcessAudit(int soak_pid, std::string marker_env, std::string cgroup_dir)
    : soak_pid_(soak_pid), marker_(std::move(marker_env)), cgroup_dir_(std::move(cgroup_dir)) {}

ProcessSample ProcessAudit::sample(double now_s, int gateway_pid, const std::set<int>& helpers,
                                   double settle_s) {
  Table t;
  for (const auto& p : runtime::process_table()) t.by_pid[p.pid] = p;
  auto is_helper = [&](int pid) {
    for (int h : helpers)
      if (h > 0 && t.reaches(pid, h)) return true;
    return false;
  };
  std::set<int> gateways = others_;
  if (gateway_pid > 0) gateways.insert(gateway_pid);
  auto is_gateway = [&](int pid) { return gateways.count(pid) != 0; };
  auto under_a_gateway = [&](int pid) {
    for (int g : gateways)
      if (g > 0 && t.reaches(pid, g)) return true;
    return false;
  };
  auto is_ours = [&](const runtime::ProcStat& p) {
    if (p.pid == soak_pid_ || is_gateway(p.pid) || is_helper(p.pid)) return false;
    return t.reaches(p.pid, soak_pid_) || environ_has(p.pid, marker_) ||
           in_cgroup(p.pid, cgroup_dir_);
  };
  ProcessSample s;
  std::set<Key> unowned_now, zombies_now;
  for (const auto& [pid, p] : t.by_pid) {
    bool zombie = p.state == ProcState::zombie;
    // The soak's own children (orphans of a killed gateway come to it) are reaped by the
    // soak itself (reap_all before every sample): one caught between its exit and that
    // reap is not a leak of the gateway's.
    if (zombie && p.ppid == soak_pid_) continue;
    bool ours = is_ours(p);
    if (!ours && zombie) {
      auto parent = t.by_pid.find(p.ppid);
      ours = is_gateway(p.ppid) || (parent != t.by_pid.end() && parent->second.pid != soak_pid_ &&
                                    is_ours(parent->second));
    }
    if (!ours) continue;
    ++s.processes;
    Key key{pid, p.start_ticks};
    if (zombie && !is_gateway(p.ppid) && under_a_gateway(p.ppid)) {
      // The unreaped child of a live program in a live session (a shell's finished
      // background job): its parent's to reap, and gone with the session. Not the
      // gateway's leak while the session lives; after the end, nothing is owned.
      ++s.owned;
      continue;
    }
    if (zombie) {
      ++s.zombies;
      zombies_now.insert(key);
      first_seen_zombie_.emplace(key, now_s);
      if (now_s - first_seen_zombie_[key] >= settle_s && leaked_zombies_.insert(key).second)
        s.leaked_now.push_back(std::to_string(pid) + " " + comm_of(pid) + " (zombie of " +
                               std::to_string(p.ppid) + ")");
      continue;
    }
    if (under_a_gateway(pid)) {
      ++s.owned;
      continue;
    }
    ++s.unowned;
    unowned_now.insert(key);
    first_seen_unowned_.emplace(key, now_s);
    if (now_s - first_seen_unowned_[key] >= settle_s && leaked_.insert(key).second)
      s.leaked_now.push_back(std::to_string(pid) + " " + comm_of(pid) + " (parent " +
                             std::to_string(p.ppid) + ", no live gateway above it)");
  }
  // Forget what is gone (or owned again), so that a later sighting starts afresh.
  std::erase_if(first_seen_unowned_, [&](const auto& kv) { return !unowned_now.count(kv.first); });
  std::erase_if(first_seen_zombie_, [&](const auto& kv) { return !zombies_now.count(kv.first); });
  return s;
}

std::vector<int> ProcessAudit::all_pids(const std::set<int>& helpers) {
  std::vector<int> out;
  Table t;
  for (const auto& p : runtime::process_table()) t.by_pid[p.pid] = p;
  for (const auto& [pid, p] : t.by_pid) {
    if (pid == soak_pid_ || p.state == ProcState::zombie) continue;
    bool helper = false;
    for (int h : helpers) helper = helper || (h > 0 && t.reaches(pid, h));
    if (helper) continue;
    if (t.reaches(pid, soak_pid_) || environ_has(pid, marker_) || in_cgroup(pid, cgroup_dir_))
      out.push_back(pid);
  }
  return out;
}

}  // namespace lifeline::soak

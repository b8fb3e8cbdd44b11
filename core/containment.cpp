#include "core/containment.hpp"
#include "core/assert.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace lifeline {

std::vector<int> containment_victims(const std::vector<ProcStat>& table, int self,
                                     const std::vector<int>& cgroup_members) {
  LIFELINE_ASSERT(self > 0);                     // pid 1 too: the gateway may be a container's init
  std::multimap<int, const ProcStat*> children;  // ppid -> child
  std::map<int, const ProcStat*> by_pid;
  for (const auto& p : table) {
    children.emplace(p.ppid, &p);
    by_pid.emplace(p.pid, &p);
  }
  std::set<int> out;
  // Breadth-first over the parent links; `seen` guards against a torn snapshot that
  // shows a cycle (a pid reused between two reads).
  std::set<int> seen{self};
  std::vector<int> frontier{self};
  while (!frontier.empty()) {
    int parent = frontier.back();
    frontier.pop_back();
    auto [lo, hi] = children.equal_range(parent);
    for (auto it = lo; it != hi; ++it) {
      const ProcStat& c = *it->second;
      if (!seen.insert(c.pid).second) continue;
      // mutant: the-terminal-supervisor-kills-only-its-cgroup
      if (c.state != ProcState::zombie) out.insert(c.pid);
      frontier.push_back(c.pid);
    }
  }
  for (int pid : cgroup_members) {
    if (pid == self || pid <= 1) continue;
    auto it = by_pid.find(pid);
    if (it == by_pid.end() || it->second->state != ProcState::zombie) out.insert(pid);
  }
  // Never the supervisor itself, never init or the kernel.
  LIFELINE_ASSERT(out.count(self) == 0);
  LIFELINE_ASSERT(out.empty() || *out.begin() > 1);
  return {out.begin(), out.end()};
}

}  // namespace lifeline

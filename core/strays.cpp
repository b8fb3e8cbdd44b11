#include "core/strays.hpp"
#include "core/assert.hpp"

namespace lifeline {

StrayDecision stray_decision(const std::vector<ProcStat>& children, const std::set<int>& ours) {
  std::set<int> kill, reap;
  for (const auto& c : children) {
    if (c.pid <= 1 || ours.count(c.pid)) continue;
    // mutant: a-reparented-escapee-is-never-killed
    if (c.state != ProcState::zombie) kill.insert(c.pid);
    // mutant: a-reparented-zombie-is-left-unreaped
    reap.insert(c.pid);
  }
  // Never init, never one of ours; and whatever is killed is also reaped.
  LIFELINE_ASSERT(reap.empty() || *reap.begin() > 1);
  for (int pid : kill) LIFELINE_ASSERT(ours.count(pid) == 0);
  return {{kill.begin(), kill.end()}, {reap.begin(), reap.end()}};
}

WorkerExitPlan worker_exit_plan(int self, bool forked, const std::vector<int>& children,
                                const std::vector<int>& group_members, bool in_own_cgroup) {
  LIFELINE_ASSERT(self > 0);  // pid 1 too: the gateway may be a container's init
  WorkerExitPlan plan;
  std::set<int> planned;
  auto add = [&](int pid) {
    if (pid > 1 && pid != self && planned.insert(pid).second) plan.kill.push_back(pid);
  };
  for (int pid : children) add(pid);
  if (!forked) return plan;
  // mutant: a-leaving-worker-spares-its-process-group
  for (int pid : group_members) add(pid);
  // mutant: a-leaving-worker-spares-its-cgroup
  plan.kill_own_cgroup = in_own_cgroup;
  LIFELINE_ASSERT(planned.size() == plan.kill.size());  // each pid once
  LIFELINE_ASSERT(planned.count(self) == 0);
  return plan;
}

}  // namespace lifeline

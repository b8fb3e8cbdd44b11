// Two containment decisions that both shells (the runtime and simrun) used to make on
// their own (docs/DESIGN.md rule 13): pure functions over the facts the shell reports, so that
// the simulator runs the production policy and its mutants mutate production code.
#pragma once

#include <set>
#include <vector>

#include "core/proc_stat.hpp"

namespace lifeline {

// The gateway is a subreaper: a descendant whose parent died is reparented to it. Among
// its children (as the process table shows them), every one it did not spawn (`ours`
// holds those it did, launched-but-not-yet-adopted included) is a stray: the live ones
// are killed, and every stray is reaped once it is a zombie. Ascending.
struct StrayDecision {
  std::vector<int> kill;  // live strays: SIGKILL
  std::vector<int> reap;  // every stray: reap when (or once) it is a zombie, never block
};
StrayDecision stray_decision(const std::vector<ProcStat>& children, const std::set<int>& ours);

// A slash worker leaving (its lifeline cut, HUP or TERM) takes what it made with it, in
// this order: its own children (setsid escapees included: their pids are still its own,
// unreaped), then every other member of its process group, then - where the gateway gave
// it a cgroup of its own - the whole cgroup, itself included. Never itself by pid: it
// exits. A worker that never forked made nothing: no scan, no cgroup kill (most workers;
// this runs on every session's exit).
struct WorkerExitPlan {
  std::vector<int> kill;         // in order, without duplicates
  bool kill_own_cgroup = false;  // cgroup.kill last
};
WorkerExitPlan worker_exit_plan(int self, bool forked, const std::vector<int>& children,
                                const std::vector<int>& group_members, bool in_own_cgroup);

// Before the gateway exits, escapees reparented to it during the teardown are killed and
// reaped in rounds, because a killed stray's own children reach it only once that stray
// has died (a terminal's shell, then its background job, when the supervisor was killed
// before it could contain them). At most a second in all; then it exits all the same.
inline constexpr int exit_stray_rounds = 100;
inline constexpr int exit_stray_gap_ms = 10;
// After `rounds_done` rounds: run another (after the gap)?
inline bool another_stray_round(int rounds_done, bool children_left) {
  return children_left && rounds_done < exit_stray_rounds;
}

}  // namespace lifeline

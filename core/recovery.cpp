#include "core/recovery.hpp"
#include "core/assert.hpp"

#include <algorithm>
#include <string>

namespace lifeline {

void sweep_predecessor(const PredecessorSweep& steps, Log& log) {
  if (int killed = steps.kill_ledger ? steps.kill_ledger() : 0)
    log.write(LogLevel::warn,
              "killed " + std::to_string(killed) + " processes left by a previous gateway");
  if (int open = steps.end_open_sessions ? steps.end_open_sessions() : 0)
    log.write(LogLevel::info, "recorded the end of " + std::to_string(open) +
                                  " sessions a previous gateway left open");
  if (steps.prune) steps.prune();  // it says what it pruned: only it knows the age
  if (int swept = steps.sweep_cgroups ? steps.sweep_cgroups() : 0)
    log.write(LogLevel::warn,
              "swept " + std::to_string(swept) + " cgroups left by a previous gateway");
}

std::vector<int> predecessor_victims(const LedgerRow& row, const ProcessTable& table, int self,
                                     std::size_t cap) {
  LIFELINE_ASSERT(cap > 0);
  LIFELINE_ASSERT(self > 0);  // pid 1 too: the gateway may be a container's init
  auto leader = table.find(row.pid);
  // mutant: the-ledger-sweep-judges-the-recorded-child
  bool same = leader && leader->start_ticks == row.start_ticks && !leader->zombie;
  std::vector<int> tree;
  if (same) {
    tree.push_back(row.pid);
    // mutant: the-ledger-sweep-kills-the-child-but-not-its-tree
    for (std::size_t i = 0; i < tree.size() && tree.size() < cap; ++i)
      for (int c : table.children_of(tree[i])) tree.push_back(c);
  }
  // The leader may be our child's unreaped zombie: then the group id is still ours.
  auto group_leader = table.find(row.pgid);
  bool leader_is_ours = row.pgid == row.pid && leader && leader->start_ticks == row.start_ticks;
  bool group_taken_over = group_leader && !leader_is_ours;
  // mutant: the-ledger-sweep-judges-the-recorded-group
  bool group_ours = row.pgid > 1 && !group_taken_over;
  if (group_ours)
    for (int m : table.group_members(row.pgid)) {
      auto p = table.find(m);
      if (p && p->start_ticks >= row.start_ticks &&
          std::find(tree.begin(), tree.end(), m) == tree.end())
        tree.push_back(m);
    }
  std::vector<int> out;
  for (int v : tree) {
    if (out.size() >= cap) break;
    auto p = table.find(v);
    if (v <= 1 || v == self || !p || p->zombie) continue;
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  LIFELINE_ASSERT(out.size() <= cap);
  LIFELINE_ASSERT(std::find(out.begin(), out.end(), self) == out.end());
  return out;
}

}  // namespace lifeline

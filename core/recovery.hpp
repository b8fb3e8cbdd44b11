// What a restarted gateway kills of a dead predecessor's children (docs/DESIGN.md rules 8 and
// 13): one decision, made here from the ledger's rows and the process table's facts, so
// that the runtime and the simulator run the same policy, not two copies of it.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "core/ports.hpp"

namespace lifeline {

// For one ledger row: the pids to SIGKILL, in order.
// - The recorded child, if it is still that incarnation (pid and start time, not a
//   zombie), with every descendant it still parents (setsid escapees included) - all
//   collected before anything is killed, while the parent links hold.
// - Whatever is left in its process group, if the group id was not taken over (its
//   leader is gone, or is that very child, zombie included), and only members no older
//   than the child.
// Never pid 1, never `self`, never a zombie, never the same pid twice; at most `cap`.
std::vector<int> predecessor_victims(const LedgerRow& row, const ProcessTable& table, int self,
                                     std::size_t cap = 4096);

// A successor's start-up, before it serves anyone (docs/DESIGN.md "Durability"). Each
// step is the shell's, and returns how many things it did; the order is this function's:
//   1. kill what the predecessor's ledger names, while the parent links still hold (a
//      cgroup kill first would orphan the grandchildren the ledger finds through them);
//   2. record the end (`shutdown`) of every session it left open;
//   3. prune by --retain-days;
//   4. kill and remove what is still in its cgroups.
// A step the shell does not have (simrun's store keeps no open rows) is left empty.
struct PredecessorSweep {
  std::function<int()> kill_ledger;
  std::function<int()> end_open_sessions;
  std::function<int()> prune;
  std::function<int()> sweep_cgroups;
};
void sweep_predecessor(const PredecessorSweep& steps, Log& log);

}  // namespace lifeline

// What a restarted gateway kills of a dead predecessor's children (docs/DESIGN.md rules 8 and
// 13): one decision, made here from the ledger's rows and the process table's facts, so
// that the runtime and the simulator run the same policy, not two copies of it.
#pragma once

#include <cstddef>
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

}  // namespace lifeline

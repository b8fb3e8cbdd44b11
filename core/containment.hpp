// Whom a containment must kill: a pure decision over facts the shell reports (a process
// table snapshot and the members of a cgroup), so that it can be unit-tested and, in
// time, run by the simulator too (docs/DESIGN.md rule 13). Used by the terminal supervisor,
// which must leave nothing of its terminal behind when the gateway dies or the shell
// exits (rule 7).
#pragma once

#include <vector>

#include "core/proc_stat.hpp"

namespace lifeline {

// Every live process that descends from `self` by parentage (a subreaper's orphans are
// its children again, so setsid and double-fork escapees are found), every live member of
// `cgroup_members` (escapees that left the tree but not the cgroup), never `self` and never
// a zombie (a zombie is reaped, not killed). Ascending, without duplicates.
std::vector<int> containment_victims(const std::vector<ProcStat>& table, int self,
                                     const std::vector<int>& cgroup_members);

}  // namespace lifeline

// The persistent registry of every child the gateway spawned (DESIGN.md rule 8): one
// row per child from spawn to release, written by the store's thread. A gateway that
// was SIGKILLed cannot clean up; its successor reads the rows at start-up, before it
// serves anyone, and kills - PID-reuse safely - whatever they still describe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ports.hpp"

namespace lifeline::runtime {

struct LedgerRow {
  int pid = 0;
  std::uint64_t start_ticks = 0;  // /proc/<pid>/stat field 22: with pid, one incarnation
  int pgid = 0;
  std::string cgroup;  // "" when none
};

class ChildLedger {
 public:
  virtual ~ChildLedger() = default;
  virtual void ledger_add(const LedgerRow& row) = 0;
  virtual void ledger_remove(int pid, std::uint64_t start_ticks) = 0;
};

// Kills what the rows of a dead predecessor still describe: a child that is the same
// incarnation (pid and start time) with every descendant it still parents (setsid
// escapees included, found before the first kill while the parent links hold), and
// whatever is left in its process group when the group id was not taken over (its
// leader is gone, or is that very child) - only members no older than the child.
// Returns how many processes it killed.
int sweep_ledger(const std::vector<LedgerRow>& rows, Log& log);

}  // namespace lifeline::runtime

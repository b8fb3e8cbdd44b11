// The runtime's side of the persistent child ledger (docs/DESIGN.md rule 8): the rows live in
// the store (SqliteStore is a ChildLedger); at start-up, before serving anyone,
// a gateway kills what a SIGKILLed predecessor's rows still describe. Whom to kill is
// core's predecessor_victims (core/recovery.hpp); this file only reads /proc and kills.
#pragma once

#include <vector>

#include "core/ports.hpp"

namespace lifeline::runtime {

// Where the process port writes a row per child from spawn to release (the core reads
// rows, core/recovery.hpp, but never writes them: so this lives here, not among its ports).
class ChildLedger {
 public:
  virtual ~ChildLedger() = default;
  virtual void ledger_add(const LedgerRow& row) = 0;
  virtual void ledger_remove(int pid, std::uint64_t start_ticks) = 0;
};

// Returns how many processes it killed.
int sweep_ledger(const std::vector<LedgerRow>& rows, Log& log);

}  // namespace lifeline::runtime

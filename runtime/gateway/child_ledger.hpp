// The runtime's side of the persistent child ledger (docs/DESIGN.md rule 8): the rows live in
// the store (SqliteStore is the core's ChildLedger); at start-up, before serving anyone,
// a gateway kills what a SIGKILLed predecessor's rows still describe. Whom to kill is
// core's predecessor_victims (core/recovery.hpp); this file only reads /proc and kills.
#pragma once

#include <vector>

#include "core/ports.hpp"

namespace lifeline::runtime {

// Returns how many processes it killed.
int sweep_ledger(const std::vector<LedgerRow>& rows, Log& log);

}  // namespace lifeline::runtime

#include "runtime/gateway/child_ledger.hpp"

#include <signal.h>
#include <unistd.h>

#include "core/recovery.hpp"
#include "runtime/common/proc_info.hpp"

namespace lifeline::runtime {

namespace {
// The process table as /proc shows it, read on demand.
class ProcTable final : public ProcessTable {
 public:
  std::optional<ProcessFacts> find(int pid) const override {
    auto st = read_proc_stat(pid);
    if (!st) return std::nullopt;
    return ProcessFacts{st->pid, st->pgid, st->start_ticks, st->state == ProcState::zombie};
  }
  std::vector<int> children_of(int pid) const override { return runtime::children_of(pid); }
  std::vector<int> group_members(int pgid) const override { return pids_in_group(pgid); }
};
}  // namespace

int sweep_ledger(const std::vector<LedgerRow>& rows, Log& log) {
  ProcTable table;
  int killed = 0;
  for (const auto& row : rows)
    for (int v : predecessor_victims(row, table, static_cast<int>(getpid()))) {
      if (::kill(v, SIGKILL) != 0) continue;
      ++killed;
      log.write(LogLevel::warn, "killed pid " + std::to_string(v) +
                                    ", left by a previous gateway (its child pid " +
                                    std::to_string(row.pid) + ")");
    }
  return killed;
}

}  // namespace lifeline::runtime

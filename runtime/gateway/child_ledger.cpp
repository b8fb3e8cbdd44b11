#include "runtime/gateway/child_ledger.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "runtime/common/proc_info.hpp"

namespace lifeline::runtime {

int sweep_ledger(const std::vector<LedgerRow>& rows, Log& log) {
  int killed = 0;
  for (const auto& row : rows) {
    auto leader = read_proc_stat(row.pid);
    bool same = leader && leader->start_ticks == row.start_ticks && leader->state != 'Z';
    std::vector<int> victims;
    if (same) {
      victims.push_back(row.pid);
      for (std::size_t i = 0; i < victims.size() && victims.size() < 4096; ++i)
        for (int c : children_of(victims[i])) victims.push_back(c);
    }
    auto group_leader = read_proc_stat(row.pgid);
    // The leader may be our child's unreaped zombie: still ours.
    bool leader_is_ours = row.pgid == row.pid && leader && leader->start_ticks == row.start_ticks;
    bool group_ours = row.pgid > 1 && (!group_leader || leader_is_ours);
    if (group_ours)
      for (int m : pids_in_group(row.pgid)) {
        auto st = read_proc_stat(m);
        if (st && st->start_ticks >= row.start_ticks &&
            std::find(victims.begin(), victims.end(), m) == victims.end())
          victims.push_back(m);
      }
    for (int v : victims) {
      if (v <= 1 || v == getpid()) continue;
      if (::kill(v, SIGKILL) == 0) {
        ++killed;
        log.write(LogLevel::warn, "killed pid " + std::to_string(v) +
                                      ", left by a previous gateway (its child pid " +
                                      std::to_string(row.pid) + ")");
      }
    }
  }
  return killed;
}

}  // namespace lifeline::runtime

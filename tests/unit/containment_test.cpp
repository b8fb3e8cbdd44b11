// containment_victims: the terminal supervisor's decision of whom to kill (docs/DESIGN.md
// rules 7, 8 and 13), on hand-made process tables.
#include <gtest/gtest.h>

#include "core/containment.hpp"

namespace lifeline::testing {
namespace {

ProcStat proc(int pid, int ppid, int pgid, ProcState state = ProcState::alive) {
  return ProcStat{pid, state, ppid, pgid, pgid, 1000};
}

TEST(Containment, TakesEveryDescendantAndNothingElse) {
  std::vector<ProcStat> table = {
      proc(1, 0, 1),        // init
      proc(100, 1, 100),    // the gateway
      proc(200, 100, 200),  // the supervisor (self)
      proc(201, 200, 201),  // the shell
      proc(202, 201, 201),  // a background job
      proc(203, 200, 203),  // a setsid double-fork escapee, adopted by the subreaper
      proc(204, 203, 203),  // its child
      proc(300, 100, 300),  // another session's worker: not ours
      proc(301, 1, 301),    // a stranger
  };
  EXPECT_EQ(containment_victims(table, 200, {}), (std::vector<int>{201, 202, 203, 204}));
}

TEST(Containment, NeverSelfNeverZombiesButLooksThroughAZombieParent) {
  std::vector<ProcStat> table = {
      proc(200, 100, 200),
      proc(201, 200, 201, ProcState::zombie),  // the shell has exited, not yet reaped
      proc(202, 201, 201),                     // its job, still alive under the zombie
  };
  EXPECT_EQ(containment_victims(table, 200, {200, 201}), (std::vector<int>{202}));
}

TEST(Containment, CgroupMembersThatLeftTheTreeAreTakenToo) {
  std::vector<ProcStat> table = {proc(200, 100, 200), proc(500, 1, 500)};
  // 500 was reparented out of our tree but is still in our cgroup; 1 never is a victim.
  EXPECT_EQ(containment_victims(table, 200, {1, 200, 500, 501}), (std::vector<int>{500, 501}));
}

TEST(Containment, ATornSnapshotWithACycleEnds) {
  std::vector<ProcStat> table = {proc(200, 100, 200), proc(201, 202, 201), proc(202, 201, 201),
                                 proc(203, 200, 203)};
  EXPECT_EQ(containment_victims(table, 200, {}), (std::vector<int>{203}));
}

}  // namespace
}  // namespace lifeline::testing

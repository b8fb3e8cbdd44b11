// stray_decision and worker_exit_plan (core/strays.hpp): the containment decisions the
// runtime and simrun share (docs/DESIGN.md rules 8 and 13), on hand-made facts.
#include <gtest/gtest.h>

#include "core/strays.hpp"

namespace lifeline::testing {
namespace {

ProcStat child(int pid, ProcState state = ProcState::alive) {
  return ProcStat{pid, state, 100, pid, pid, 1000};
}

TEST(Strays, KillsLiveChildrenItNeverSpawnedAndReapsEveryStray) {
  auto d = stray_decision(
      {child(201), child(202, ProcState::zombie), child(300), child(301, ProcState::zombie)},
      {300, 301});
  EXPECT_EQ(d.kill, (std::vector<int>{201}));
  EXPECT_EQ(d.reap, (std::vector<int>{201, 202}));
}

TEST(Strays, LeavesOwnChildrenAloneEvenLaunchedButNotAdopted) {
  auto d = stray_decision({child(300), child(301)}, {300, 301});
  EXPECT_TRUE(d.kill.empty());
  EXPECT_TRUE(d.reap.empty());
}

TEST(Strays, NeverInitOrANonsensePid) {
  auto d = stray_decision({child(1), child(0), child(-5)}, {});
  EXPECT_TRUE(d.kill.empty());
  EXPECT_TRUE(d.reap.empty());
}

TEST(WorkerExit, ChildrenFirstThenTheGroupThenTheCgroupNeverSelf) {
  auto plan = worker_exit_plan(50, true, {61, 60}, {50, 60, 70, 71}, true);
  EXPECT_EQ(plan.kill, (std::vector<int>{61, 60, 70, 71}));
  EXPECT_TRUE(plan.kill_own_cgroup);
}

TEST(WorkerExit, AWorkerThatNeverForkedKillsNothingMore) {
  auto plan = worker_exit_plan(50, false, {}, {50, 70}, true);
  EXPECT_TRUE(plan.kill.empty());
  EXPECT_FALSE(plan.kill_own_cgroup);
}

TEST(WorkerExit, NoCgroupOfItsOwnNoCgroupKill) {
  auto plan = worker_exit_plan(50, true, {60}, {50, 60}, false);
  EXPECT_EQ(plan.kill, (std::vector<int>{60}));
  EXPECT_FALSE(plan.kill_own_cgroup);
}

}  // namespace
}  // namespace lifeline::testing

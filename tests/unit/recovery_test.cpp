// predecessor_victims: what a restarted gateway kills of a SIGKILLed predecessor's
// children (docs/DESIGN.md rules 8 and 13), on hand-made process tables. The simulator runs
// the same function against its kernel (sim/sim_process_control.cpp).
#include <gtest/gtest.h>

#include <map>

#include "core/recovery.hpp"

namespace lifeline::testing {
namespace {

struct Proc {
  int ppid = 0;
  int pgid = 0;
  std::uint64_t start = 0;
  bool zombie = false;
};

class FakeTable final : public ProcessTable {
 public:
  std::map<int, Proc> procs;
  std::optional<ProcessFacts> find(int pid) const override {
    auto it = procs.find(pid);
    if (it == procs.end()) return std::nullopt;
    return ProcessFacts{pid, it->second.pgid, it->second.start, it->second.zombie};
  }
  std::vector<int> children_of(int pid) const override {
    std::vector<int> out;
    for (const auto& [p, info] : procs)
      if (info.ppid == pid) out.push_back(p);
    return out;
  }
  std::vector<int> group_members(int pgid) const override {
    std::vector<int> out;
    for (const auto& [p, info] : procs)
      if (info.pgid == pgid) out.push_back(p);
    return out;
  }
};

constexpr int self = 50;

TEST(Recovery, TheSameIncarnationDiesWithTheTreeItStillParentsAndItsGroup) {
  FakeTable t;
  t.procs = {{100, {1, 100, 500}},    // the recorded worker, still alive
             {101, {100, 100, 510}},  // a grandchild in its group
             {102, {100, 102, 520}},  // a setsid escapee it still parents
             {103, {1, 100, 530}},    // orphaned into init, still in the group
             {200, {1, 200, 400}}};   // a stranger
  EXPECT_EQ(predecessor_victims({100, 500, 100, ""}, t, self),
            (std::vector<int>{100, 101, 102, 103}));
}

TEST(Recovery, AReusedPidIsNotTheRecordedChild) {
  FakeTable t;
  t.procs = {{100, {1, 100, 999}},  // pid 100 now belongs to someone else (other start time)
             {101, {100, 100, 1000}}};
  // The group leader 100 exists and is not ours: the group id was taken over.
  EXPECT_TRUE(predecessor_victims({100, 500, 100, ""}, t, self).empty());
}

TEST(Recovery, ADeadWorkersGroupLeftoversDieIfTheGroupIdWasNotTakenOver) {
  FakeTable t;
  t.procs = {{101, {1, 100, 510}},  // the worker 100 is gone; its grandchildren remain
             {102, {1, 100, 490}},  // older than the worker: not something it started
             {300, {1, 300, 600}}};
  EXPECT_EQ(predecessor_victims({100, 500, 100, ""}, t, self), (std::vector<int>{101}));
}

TEST(Recovery, AZombieLeaderStillHoldsItsGroupButIsNotKilled) {
  FakeTable t;
  t.procs = {{100, {1, 100, 500, true}}, {101, {1, 100, 510}}};
  EXPECT_EQ(predecessor_victims({100, 500, 100, ""}, t, self), (std::vector<int>{101}));
}

TEST(Recovery, NeverInitNeverSelfNeverTwiceAndBounded) {
  FakeTable t;
  t.procs = {{100, {1, 100, 500}}, {self, {100, 100, 510}}, {1, {0, 100, 600}}};
  EXPECT_EQ(predecessor_victims({100, 500, 100, ""}, t, self), (std::vector<int>{100}));
  FakeTable big;
  big.procs[100] = {1, 100, 500};
  for (int i = 0; i < 100; ++i) big.procs[1000 + i] = {100, 100, 501};
  EXPECT_EQ(predecessor_victims({100, 500, 100, ""}, big, self, 10).size(), 10u);
  EXPECT_TRUE(predecessor_victims({100, 500, 1, ""}, FakeTable{}, self).empty());
}

// A gateway run as a container's init is pid 1: its predecessor's children, reparented
// to it, are still found and killed, and it never names itself.
TEST(Recovery, AGatewayThatIsPid1SweepsAndSparesItself) {
  FakeTable t;
  t.procs = {{1, {0, 1, 400}}, {100, {1, 100, 500}}, {101, {100, 100, 501}}};
  EXPECT_EQ(predecessor_victims({100, 500, 100, ""}, t, /*self=*/1), (std::vector<int>{100, 101}));
}

}  // namespace
}  // namespace lifeline::testing

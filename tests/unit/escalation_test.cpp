// docs/DESIGN.md rule 6 (escalation) and rule 8's in-group part, on ChildSupervisor and
// through the gateway.
#include <gtest/gtest.h>

#include "core/child_supervisor.hpp"
#include "tests/support/harness.hpp"

namespace lifeline::testing {
namespace {

struct SupervisorRig {
  sim::ManualWorld w;
  GatewayConfig cfg = test_config();
  ChildSupervisor sup{w.procs, w.clock, w.log, cfg};
  struct Exits : ProcessEvents {
    ChildSupervisor* sup = nullptr;
    void on_child_output(ChildId, std::string_view) override {}
    void on_child_exit(ChildId id, int status) override {
      if (sup->on_exit(id, status) == ChildSupervisor::ExitOutcome::died_on_its_own)
        sup->terminate(id);
    }
  } events;
  SupervisorRig() {
    events.sup = &sup;
    w.procs.set_events(&events);
  }
  ChildId spawn(sim::ChildBehaviour b = {}) {
    w.procs.next_behaviour = b;
    w.procs.spawn(SpawnSpec{ChildKind::slash, {"w"}, "s1", 0, 0}, [this](SpawnResult r) {
      sup.adopt(ChildInfo{r.child, ChildKind::slash, r.pid, r.pgid, "s1", "", 0});
    });
    ChildId id = w.procs.complete_spawn();
    w.settle();
    return id;
  }
  std::vector<Signal> signals(ChildId id) {
    std::vector<Signal> out;
    for (auto& [s, g] : w.procs.find(id)->signals) out.push_back(s);
    return out;
  }
};

TEST(Rule6_Escalation, HupThenTermThenKillWithBoundedWaits) {
  SupervisorRig r;
  ChildId id = r.spawn({.dies_on_hup = false, .dies_on_term = false});
  bool gone = false;
  r.sup.terminate(id, [&] { gone = true; });
  r.w.settle();
  EXPECT_EQ(r.signals(id), (std::vector<Signal>{Signal::hup}));
  r.w.advance(r.cfg.hup_wait - 1);
  EXPECT_EQ(r.signals(id).size(), 1u);
  r.w.advance(1);
  EXPECT_EQ(r.signals(id), (std::vector<Signal>{Signal::hup, Signal::term}));
  r.w.advance(r.cfg.term_wait);
  // KILL, the exit is observed, then one more group KILL for leftovers before reaping.
  EXPECT_EQ(r.signals(id),
            (std::vector<Signal>{Signal::hup, Signal::term, Signal::kill, Signal::kill}));
  EXPECT_TRUE(gone);
  EXPECT_TRUE(r.w.procs.find(id)->reaped);
  EXPECT_TRUE(r.w.procs.find(id)->released);
  EXPECT_TRUE(r.w.procs.violations.empty()) << ::testing::PrintToString(r.w.procs.violations);
}

TEST(Rule6_Escalation, AChildThatHonoursHupIsNotEscalated) {
  SupervisorRig r;
  ChildId id = r.spawn();
  r.sup.terminate(id);
  r.w.advance(10'000);
  EXPECT_EQ(r.signals(id), (std::vector<Signal>{Signal::hup, Signal::kill}));
  EXPECT_EQ(r.sup.size(), 0u);
}

TEST(Rule6_Escalation, TerminateTwiceRunsOneLadder) {
  SupervisorRig r;
  ChildId id = r.spawn({.dies_on_hup = false});
  int gone = 0;
  r.sup.terminate(id, [&] { ++gone; });
  r.sup.terminate(id, [&] { ++gone; });
  r.w.advance(10'000);
  EXPECT_EQ(r.signals(id), (std::vector<Signal>{Signal::hup, Signal::term, Signal::kill}));
  EXPECT_EQ(gone, 2);
}

TEST(Rule6_Escalation, TerminationLatencyIsRecordedOncePerChildInItsBucket) {
  SupervisorRig r;
  ChildId stubborn = r.spawn({.dies_on_hup = false, .dies_on_term = false});
  ChildId polite = r.spawn();
  r.sup.terminate(stubborn);
  r.sup.terminate(stubborn);  // joins the ladder: still one termination
  r.sup.terminate(polite);
  r.w.advance(r.cfg.hup_wait + r.cfg.term_wait + r.cfg.kill_wait);
  const LatencyHistogram& h = r.sup.termination_latency();
  ASSERT_EQ(h.count(), 2);
  Millis ladder = r.cfg.hup_wait + r.cfg.term_wait;  // KILL works at once here
  EXPECT_EQ(h.sum(), ladder);  // the polite child went within the same instant
  std::size_t ladder_bucket = 0;
  while (LatencyHistogram::bounds[ladder_bucket] < ladder) ++ladder_bucket;
  EXPECT_EQ(h.in_bucket(0), 1);
  EXPECT_EQ(h.in_bucket(ladder_bucket), 1);
}

TEST(Rule6_Escalation, NeverSignalsAReapedChild) {
  SupervisorRig r;
  ChildId id = r.spawn();
  r.sup.terminate(id);
  r.w.advance(10'000);
  std::size_t before = r.w.procs.find(id)->signals.size();
  r.sup.terminate(id);  // a stale handle: the child is gone from the table
  r.w.advance(10'000);
  EXPECT_EQ(r.w.procs.find(id)->signals.size(), before);
  EXPECT_TRUE(r.w.procs.violations.empty()) << ::testing::PrintToString(r.w.procs.violations);
}

TEST(Rule6_Escalation, ObservesExitBeforeReapAndReleasesOnce) {
  SupervisorRig r;
  ChildId id = r.spawn({.dies_on_hup = false, .dies_on_term = false});
  r.sup.terminate(id);
  r.w.advance(100'000);
  auto* c = r.w.procs.find(id);
  EXPECT_TRUE(c->exited && c->reaped && c->released);
  EXPECT_TRUE(r.w.procs.violations.empty()) << ::testing::PrintToString(r.w.procs.violations);
}

TEST(Rule6_Escalation, NeverSignalsTheGatewaysOwnGroup) {
  SupervisorRig r;
  r.w.procs.next_pgid = r.w.procs.gateway_pgid();
  ChildId id = r.spawn({.dies_on_hup = false, .dies_on_term = false});
  r.sup.terminate(id);
  r.w.advance(10'000);
  for (auto& [sig, scope] : r.w.procs.find(id)->signals) EXPECT_EQ(scope, Scope::process);
  EXPECT_TRUE(r.w.procs.violations.empty()) << ::testing::PrintToString(r.w.procs.violations);
  EXPECT_TRUE(r.w.procs.find(id)->released);
}

TEST(Rule6_Escalation, AnUnkillableChildStaysOwnedAndIsAskedAgain) {
  SupervisorRig r;
  ChildId id = r.spawn({.dies_on_hup = false, .dies_on_term = false, .dies_on_kill = false});
  r.sup.terminate(id);
  r.w.advance(r.cfg.hup_wait + r.cfg.term_wait + 5 * r.cfg.kill_wait);
  EXPECT_TRUE(r.sup.find(id)) << "still owned while it lives";
  EXPECT_GE(r.signals(id).size(), 5u);
  r.w.procs.exit_child(id, 137);
  r.w.settle();
  EXPECT_FALSE(r.sup.find(id));
  EXPECT_TRUE(r.w.procs.find(id)->released);
}

TEST(Rule6_Escalation, ASecondReportOfAnExitIsKnownNotANewDeath) {
  sim::ManualWorld w;
  GatewayConfig cfg = test_config();
  ChildSupervisor sup{w.procs, w.clock, w.log, cfg};
  w.procs.spawn(SpawnSpec{ChildKind::slash, {"w"}, "s1", 0, 0}, [&](SpawnResult r) {
    sup.adopt(ChildInfo{r.child, ChildKind::slash, r.pid, r.pgid, "s1", "", 0});
  });
  ChildId id = w.procs.complete_spawn();
  w.settle();
  EXPECT_EQ(sup.on_exit(id, 1), ChildSupervisor::ExitOutcome::died_on_its_own);
  EXPECT_EQ(sup.on_exit(id, 1), ChildSupervisor::ExitOutcome::exit_already_known);
  EXPECT_TRUE(sup.find(id));  // still the caller's to terminate, once
}

TEST(Rule8_Escapees, AWorkerThatDiesOnItsOwnHasItsGroupKilledBeforeReap) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/spawn 3"}});
  h.w.settle();
  ChildId child = h.w.procs.complete_spawn();
  h.w.settle();
  h.w.procs.exit_child(child, 1);
  h.w.settle();
  auto* w = h.w.procs.find(child);
  ASSERT_EQ(w->signals.size(), 1u);
  EXPECT_EQ(w->signals[0], std::make_pair(Signal::kill, Scope::containment));
  EXPECT_TRUE(w->reaped && w->released);
  EXPECT_EQ(h.error_code(h.w.transport.sent(c).back()), rpc::worker_exited);
  ASSERT_EQ(h.events(c, "worker.exit").size(), 1u);
  EXPECT_EQ(h.events(c, "worker.exit")[0]["params"]["payload"]["status"], 1);
}

TEST(Catalogue, PtyCloseSignalsTheGroupAndClosesTheMaster) {
  // Historical: PTY close signalled only the leader and dropped the master fd unclosed.
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  int rid = h.send_pty_open(c, id);
  h.w.settle();
  ChildId pty = h.w.procs.complete_spawn();
  h.w.settle();
  std::string pty_id = h.response(c, rid)["result"]["pty_id"];
  Json closed = h.call(c, "pty.close", {{"pty_id", pty_id}});
  EXPECT_EQ(closed["result"]["closed"], true);
  h.w.advance(5'000);
  auto* p = h.w.procs.find(pty);
  ASSERT_FALSE(p->signals.empty());
  for (auto& [sig, scope] : p->signals) EXPECT_NE(scope, Scope::process);
  EXPECT_TRUE(p->reaped);
  EXPECT_TRUE(p->released) << "the master fd must be closed";
  EXPECT_EQ(h.call(c, "pty.close", {{"pty_id", pty_id}})["result"]["closed"], false);
  h.expect_safe();
}

}  // namespace
}  // namespace lifeline::testing

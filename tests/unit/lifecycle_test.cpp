// docs/DESIGN.md lifecycle rules 1-3, 5, 9 and the historical failure modes, against the
// core with hand-driven ports. Test names carry the rule or the catalogue entry.
#include <gtest/gtest.h>

#include <optional>

#include "tests/support/harness.hpp"

namespace lifeline::testing {
namespace {

int count_signals(const sim::FakeProcesses::Child& c, Signal sig) {
  int n = 0;
  for (auto& [s, group] : c.signals) n += s == sig;
  return n;
}

// Starts a worker for session id by running one command to completion.
ChildId warm_worker(Harness& h, ConnId c, const std::string& id) {
  int rid = h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo hi"}});
  h.w.settle();
  ChildId child = h.w.procs.complete_spawn();
  h.w.settle();
  h.w.procs.answer(child, true, "hi");
  h.w.settle();
  Json r = h.response(c, rid);
  EXPECT_EQ(r["result"]["output"], "hi") << r.dump();
  return child;
}

// ---------------------------------------------------------------- rule 1

TEST(Rule1_TeardownFunnel, CloseIsIdempotentFinalizesOnceAndSignalsOnce) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  ChildId child = warm_worker(h, c, id);
  Json first = h.call(c, "session.close", {{"session_id", id}});
  Json second = h.call(c, "session.close", {{"session_id", id}});
  EXPECT_EQ(first["result"]["closed"], true);
  EXPECT_EQ(second["result"]["closed"], false);
  EXPECT_EQ(h.w.store.end_records[id], 1);
  EXPECT_EQ(h.gw->counters().finalized, 1);
  EXPECT_EQ(count_signals(*h.w.procs.find(child), Signal::hup), 1);
  EXPECT_EQ(h.events(c, "session.closed").size(), 1u);
  h.settle_all();
  EXPECT_TRUE(h.w.procs.find(child)->released);
}

TEST(Rule1_TeardownFunnel, EveryPathCountsItsReason) {
  Harness h;
  ConnId a = h.connect();
  h.call(a, "session.close", {{"session_id", h.create(a)}});  // client_close
  ConnId b = h.connect();
  h.create(b);
  h.disconnect(b);  // ws_disconnect
  ConnId d = h.connect();
  h.create(d, false);
  h.disconnect(d);
  h.w.advance(20'000);  // orphan_grace
  ConnId e = h.connect();
  h.create(e);
  h.create(e, false);
  h.gw->shutdown([](bool) {});  // shutdown, twice
  h.w.settle();
  const auto& reaped = h.gw->counters().ended_by_reason;
  EXPECT_EQ(reaped[int(EndReason::client_close)], 1);
  EXPECT_EQ(reaped[int(EndReason::ws_disconnect)], 1);
  EXPECT_EQ(reaped[int(EndReason::orphan_grace)], 1);
  EXPECT_EQ(reaped[int(EndReason::shutdown)], 2);
  EXPECT_EQ(h.gw->counters().finalized, 5);
}

TEST(Rule1_TeardownFunnel, LruEvictionIsATeardownWithItsReason) {
  GatewayConfig cfg = test_config();
  cfg.max_sessions = 2;
  Harness h(cfg);
  ConnId a = h.connect();
  std::string old_id = h.create(a, false);
  h.w.advance(10);
  std::string newer = h.create(a, false);
  h.disconnect(a);
  ConnId b = h.connect();
  std::string third = h.create(b);
  EXPECT_FALSE(h.session(old_id));  // least recently used evictable one went
  EXPECT_TRUE(h.session(newer));
  EXPECT_EQ(h.gw->counters().ended_by_reason[int(EndReason::lru_evict)], 1);
  h.create(b);  // evicts `newer`, the last evictable one
  Json refused = h.call(b, "session.create");
  EXPECT_EQ(h.error_code(refused), rpc::limit_reached) << refused.dump();
  h.expect_safe();
}

TEST(Rule1_TeardownFunnel, GraceExpiryAfterCloseIsANoOp_DoublePopRegression) {
  // Historical: the grace reaper popped a session the close path had already popped.
  Harness h;
  ConnId a = h.connect();
  std::string id = h.create(a, false);
  SessionPtr s = h.session(id);
  h.disconnect(a);
  ConnId b = h.connect();
  EXPECT_EQ(h.call(b, "session.close", {{"session_id", id}})["result"]["closed"], true);
  h.w.advance(60'000);
  EXPECT_EQ(h.w.store.end_records[id], 1);
  EXPECT_EQ(h.gw->counters().finalized, 1);
  h.expect_safe();
}

TEST(Rule1_TeardownFunnel, GraceExpiryRacingTheReaperInTheSameInstantEndsItOnce) {
  // The reaper (the older timer) evicts the session at t=30s; the grace timer expiring
  // at the same instant was already queued, so its cancel() comes too late and it runs
  // on a finalized session. The funnel must make that a no-op.
  GatewayConfig cfg = test_config();
  cfg.orphan_grace = 20'000;
  cfg.reaper_interval = 30'000;
  cfg.session_ttl = 25'000;
  Harness h(cfg);
  ConnId c = h.connect();
  std::string id = h.create(c, false);
  h.w.advance(10'000);
  h.disconnect(c);
  h.w.advance(20'000);
  EXPECT_FALSE(h.session(id));
  EXPECT_EQ(h.w.store.end_records[id], 1);
  EXPECT_EQ(h.gw->counters().finalized, 1);
  EXPECT_EQ(h.gw->counters().ended_by_reason[int(EndReason::idle_timeout)], 1);
  EXPECT_EQ(h.gw->counters().ended_by_reason[int(EndReason::orphan_grace)], 0);
}

// ---------------------------------------------------------------- rule 2

TEST(Rule2_AttachGuard, IdentityNotEquality_ALateSpawnNeverJoinsANewSessionReusingTheId) {
  Harness h;
  ConnId c = h.connect();
  h.w.random.forced = {1, 2, 7, 3, 4, 7};  // (key, key, id) twice: the id comes round again
  std::string id = h.create(c);
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo"}});
  h.w.settle();
  SessionPtr keep = h.session(id);  // the old object outlives its registry entry
  h.call(c, "session.close", {{"session_id", id}});
  std::string again = h.create(c);
  ASSERT_EQ(again, id);
  ChildId late = h.w.procs.complete_spawn();
  h.w.settle();
  h.expect_safe();
  EXPECT_FALSE(h.session(again)->worker);
  h.settle_all();
  EXPECT_TRUE(h.w.procs.find(late)->released);
}

TEST(Rule2_AttachGuard, C2_SpawnCompletingAfterCloseIsTornDown) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  int rid = h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo late"}});
  h.w.settle();
  ASSERT_EQ(h.w.procs.pending_spawns(), 1u);
  // Whoever else still holds the object (a queued callback, an introspection) must not
  // make a closed session attachable: the guard is the registry, not the lifetime.
  SessionPtr keep = h.session(id);
  h.call(c, "session.close", {{"session_id", id}});
  EXPECT_EQ(h.error_code(h.response(c, rid)), rpc::session_not_found);
  ChildId late = h.w.procs.complete_spawn();
  h.w.settle();
  h.expect_safe();
  auto* child = h.w.procs.find(late);
  ASSERT_TRUE(child);
  EXPECT_GE(count_signals(*child, Signal::hup), 1) << "a worker for a dead session must die";
  EXPECT_FALSE(h.session(id));
  h.settle_all();
  EXPECT_TRUE(child->released);
}

TEST(Rule2_AttachGuard, C2_SupersededSpawnAfterResetIsTornDown) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo one"}});
  h.w.settle();
  int reset = h.send(c, "session.reset", {{"session_id", id}});
  h.w.settle();
  ASSERT_EQ(h.w.procs.pending_spawns(), 2u);
  ChildId stale = h.w.procs.complete_spawn_at(0, true);
  h.w.settle();
  h.expect_safe();
  EXPECT_NE(h.session(id)->worker, stale);
  h.w.procs.auto_answer = true;
  ChildId fresh = h.w.procs.complete_spawn();
  h.w.settle();
  EXPECT_EQ(h.session(id)->worker, fresh);
  EXPECT_EQ(h.response(c, reset)["result"]["restarted"], true);
  h.settle_all();
  EXPECT_TRUE(h.w.procs.find(stale)->released);
  EXPECT_FALSE(h.w.procs.find(fresh)->reaped);
}

TEST(Rule2_AttachGuard, C2_PostTurnRestartCompletingAfterCloseIsTornDown) {
  // The worker dies after a turn; the restart for the next queued command completes
  // only after the session was closed.
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  ChildId first = warm_worker(h, c, id);
  h.w.procs.exit_child(first, 1);
  h.w.settle();
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo again"}});
  h.w.settle();
  ASSERT_EQ(h.w.procs.pending_spawns(), 1u);
  h.call(c, "session.close", {{"session_id", id}});
  ChildId restart = h.w.procs.complete_spawn();
  h.w.settle();
  h.expect_safe();
  h.settle_all();
  EXPECT_TRUE(h.w.procs.find(restart)->released);
}

TEST(Rule2_AttachGuard, PtySpawnCompletingAfterCloseIsTornDown) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  int rid = h.send_pty_open(c, id);
  h.w.settle();
  h.call(c, "session.close", {{"session_id", id}});
  ChildId pty = h.w.procs.complete_spawn();
  h.w.settle();
  EXPECT_EQ(h.error_code(h.response(c, rid)), rpc::session_not_found);
  h.expect_safe();
  h.settle_all();
  EXPECT_TRUE(h.w.procs.find(pty)->released);
}

// ---------------------------------------------------------------- rule 3

TEST(Rule3_Disconnect, C1_DisconnectReapsTheWorkerTree) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);  // close_on_disconnect defaults to true
  ChildId child = warm_worker(h, c, id);
  h.disconnect(c);
  EXPECT_FALSE(h.session(id));
  auto* w = h.w.procs.find(child);
  ASSERT_FALSE(w->signals.empty());
  EXPECT_EQ(w->signals.front().second, Scope::group)
      << "the whole group is signalled, not just the leader";
  h.settle_all();
  EXPECT_TRUE(w->reaped);
  EXPECT_TRUE(w->released);
  EXPECT_EQ(h.gw->counters().ended_by_reason[int(EndReason::ws_disconnect)], 1);
}

TEST(Rule3_Disconnect, DetachedSessionIsReapedWhenTheGraceExpires) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c, false);
  ChildId child = warm_worker(h, c, id);
  h.disconnect(c);
  ASSERT_TRUE(h.session(id));
  EXPECT_EQ(h.session(id)->status(), SessionStatus::detached);
  h.w.advance(19'999);
  EXPECT_TRUE(h.session(id));
  h.w.advance(1);
  EXPECT_FALSE(h.session(id));
  EXPECT_EQ(h.gw->counters().ended_by_reason[int(EndReason::orphan_grace)], 1);
  h.settle_all();
  EXPECT_TRUE(h.w.procs.find(child)->released);
}

TEST(Rule3_Disconnect, ResumeWithinTheGraceRebindsAndCancelsIt) {
  Harness h;
  ConnId a = h.connect();
  std::string id = h.create(a, false);
  h.disconnect(a);
  h.w.advance(10'000);
  ConnId b = h.connect();
  Json r = h.call(b, "session.resume", {{"session_id", id}});
  EXPECT_EQ(r["result"]["resumed"], true);
  EXPECT_EQ(r["result"]["status"], "idle");
  h.w.advance(60'000);
  ASSERT_TRUE(h.session(id));
  EXPECT_EQ(h.session(id)->conn, b);
}

TEST(Rule3_Disconnect, AResumeInTheInstantTheGraceExpiresWins) {
  // Asio's semantics: timers due at one instant are queued together, so the grace
  // handler still runs after a resume (in that instant) cancelled it. It must see the
  // session bound again and leave it be - never end a connected session by orphan_grace.
  Harness h;
  ConnId a = h.connect();
  std::string id = h.create(a, false);
  ConnId b = h.connect();
  // Created before the grace timer, due at the same instant: it runs first.
  h.w.clock.after(20'000, [&] { h.send(b, "session.resume", {{"session_id", id}}); });
  h.disconnect(a);  // arms the grace: 20 s
  h.w.advance(20'000);
  ASSERT_TRUE(h.session(id)) << "the grace ended a session that was resumed in time";
  EXPECT_EQ(h.session(id)->conn, b);
  h.expect_safe();
}

TEST(Rule3_Disconnect, BusySessionAtGraceExpiryIsRearmedNotSkipped) {
  GatewayConfig cfg = test_config();
  cfg.slash_timeout = 100'000;  // the command outlives the grace
  cfg.session_ttl = 3'600'000;
  Harness h(cfg);
  ConnId c = h.connect();
  std::string id = h.create(c, false);
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/sleep 30"}});
  h.w.settle();
  ChildId child = h.w.procs.complete_spawn();
  h.w.settle();
  h.disconnect(c);
  h.w.advance(20'000);
  ASSERT_TRUE(h.session(id)) << "a busy session must not be reaped under its command";
  h.w.procs.answer(child, true, "slept");
  h.w.settle();
  EXPECT_EQ(h.w.store.entries[h.session(id)->key].size(), 1u) << "the result is kept";
  h.w.advance(20'000);
  EXPECT_FALSE(h.session(id)) << "re-armed grace reaps it once idle, long before the TTL";
  EXPECT_EQ(h.gw->counters().ended_by_reason[int(EndReason::orphan_grace)], 1);
}

TEST(Rule3_Disconnect, ResumeOnANewConnectionThenOldDisconnectLeavesItAlive) {
  // The disconnect/resume TOCTOU: only one of them may win.
  Harness h;
  ConnId a = h.connect();
  std::string id = h.create(a, true);
  ConnId b = h.connect();
  EXPECT_EQ(h.call(b, "session.resume", {{"session_id", id}})["result"]["resumed"], true);
  h.disconnect(a);
  ASSERT_TRUE(h.session(id));
  EXPECT_EQ(h.session(id)->conn, b);
  h.disconnect(b);
  EXPECT_FALSE(h.session(id));
  EXPECT_EQ(h.w.store.end_records[id], 1);
}

TEST(Rule3_Disconnect, DisconnectThenResumeThenGraceTimerNeverFires) {
  Harness h;
  ConnId a = h.connect();
  std::string id = h.create(a, false);
  h.disconnect(a);
  ConnId b = h.connect();
  h.call(b, "session.resume", {{"session_id", id}});
  h.w.advance(100'000);
  EXPECT_TRUE(h.session(id));
  EXPECT_EQ(h.gw->counters().finalized, 0);
}

TEST(Rule3_Disconnect, OrphanGraceZeroMeansNeverGraceReaped) {
  GatewayConfig cfg = test_config();
  cfg.orphan_grace = 0;
  cfg.session_ttl = 10'000'000;
  Harness h(cfg);
  ConnId a = h.connect();
  std::string id = h.create(a, false);
  h.disconnect(a);
  h.w.advance(1'000'000);
  EXPECT_TRUE(h.session(id));
}

TEST(Rule3_Disconnect, RepliesToAClosedConnectionAreDroppedButTheResultIsStored) {
  Harness h;
  ConnId a = h.connect();
  std::string id = h.create(a, false);
  h.send(a, "slash.exec", {{"session_id", id}, {"command", "/echo kept"}});
  h.w.settle();
  ChildId child = h.w.procs.complete_spawn();
  h.w.settle();
  h.disconnect(a);
  h.w.procs.answer(child, true, "kept");
  h.w.settle();
  std::string key = h.session(id)->key;
  ASSERT_EQ(h.w.store.entries[key].size(), 1u);
  EXPECT_EQ(h.w.store.entries[key][0].text, "kept");
}

// ---------------------------------------------------------------- rule 5

class Rule5_IdleReaper : public ::testing::Test {
 protected:
  static GatewayConfig config() {
    GatewayConfig cfg = test_config();
    cfg.orphan_grace = 0;  // only the reaper may evict
    cfg.session_ttl = 60'000;
    cfg.reaper_interval = 10'000;
    cfg.slash_timeout = 1'000'000;
    return cfg;
  }
  Harness h{config()};
};

TEST_F(Rule5_IdleReaper, EvictsAnIdleDetachedSessionOlderThanTheTtl) {
  ConnId c = h.connect();
  std::string id = h.create(c, false);
  warm_worker(h, c, id);
  h.disconnect(c);
  h.w.advance(59'000);
  EXPECT_TRUE(h.session(id));
  h.w.advance(11'000);
  EXPECT_FALSE(h.session(id));
  EXPECT_EQ(h.gw->counters().ended_by_reason[int(EndReason::idle_timeout)], 1);
  h.settle_all();
}

TEST_F(Rule5_IdleReaper, SparesAnAttachedSession) {
  ConnId c = h.connect();
  std::string id = h.create(c, false);
  h.w.advance(200'000);
  EXPECT_TRUE(h.session(id));
}

TEST_F(Rule5_IdleReaper, SparesASessionWithACommandInFlight) {
  ConnId c = h.connect();
  std::string id = h.create(c, false);
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/sleep 999"}});
  h.w.settle();
  h.w.procs.complete_spawn();
  h.w.settle();
  h.disconnect(c);
  h.w.advance(200'000);
  EXPECT_TRUE(h.session(id));
}

TEST_F(Rule5_IdleReaper, SparesASessionWithPendingInput) {
  ConnId c = h.connect();
  std::string id = h.create(c, false);
  h.disconnect(c);
  // Input can only wait while something else is in flight; put it there by hand so
  // that this exemption alone is what spares the session.
  h.session(id)->queue.push_back(PendingCommand{ReplyTo{c, 1, false, {}, 0}, "/echo queued"});
  h.w.advance(200'000);
  EXPECT_TRUE(h.session(id));
}

TEST_F(Rule5_IdleReaper, SparesASessionStillStarting) {
  ConnId c = h.connect();
  std::string id = h.create(c, false);
  h.send(c, "session.reset", {{"session_id", id}});  // starting, with no input queued
  h.w.settle();
  h.disconnect(c);
  h.w.advance(200'000);  // spawn never completes
  ASSERT_TRUE(h.session(id));
  EXPECT_NE(h.session(id)->spawn_ticket, 0u);
}

TEST_F(Rule5_IdleReaper, SparesASessionWhoseTerminalIsStillStarting) {
  ConnId c = h.connect();
  std::string id = h.create(c, false);
  h.send_pty_open(c, id);
  h.w.settle();
  h.disconnect(c);
  h.w.advance(200'000);  // the terminal's spawn never completes
  ASSERT_TRUE(h.session(id));
  EXPECT_EQ(h.session(id)->pty_spawns_pending, 1);
}

TEST_F(Rule5_IdleReaper, SparesARecentlyActiveOldSession) {
  ConnId c = h.connect();
  std::string id = h.create(c, false);
  h.w.advance(100'000);  // old
  h.w.procs.auto_answer = true;
  h.call(c, "slash.exec", {{"session_id", id}, {"command", "/echo fresh"}});
  h.w.procs.complete_spawn();
  h.w.settle();
  h.disconnect(c);
  h.w.advance(30'000);  // created long ago, active recently
  EXPECT_TRUE(h.session(id));
}

TEST_F(Rule5_IdleReaper, SparesARecentlyCreatedSessionWhoseActivityLooksOld) {
  // last_active can predate creation for a session resumed from the store; creation
  // time alone must keep it.
  ConnId c = h.connect();
  std::string id = h.create(c, false);
  SessionPtr s = h.session(id);
  s->last_active_mono = -1'000'000;
  h.disconnect(c);
  h.w.advance(30'000);
  EXPECT_TRUE(h.session(id));
}

// ---------------------------------------------------------------- rule 9

TEST(Rule9_ActiveList, ShowsExactlyTheNonFinalizedSessions_FinalizedInflationRegression) {
  Harness h;
  ConnId c = h.connect();
  std::string a = h.create(c);
  std::string b = h.create(c, false);
  std::string d = h.create(c);
  h.call(c, "session.close", {{"session_id", a}});
  h.call(c, "session.close", {{"session_id", a}});
  Json list = h.call(c, "session.active_list")["result"]["sessions"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["session_id"], b);
  EXPECT_EQ(list[1]["session_id"], d);
  Json stats = h.call(c, "gateway.stats")["result"];
  EXPECT_EQ(stats["sessions_live"], 2);
  h.disconnect(c);
  ConnId e = h.connect();
  list = h.call(e, "session.active_list")["result"]["sessions"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["status"], "detached");
}

// ---------------------------------------------------------------- catalogue

TEST(Catalogue, EagerPerSessionWorkersRegression_WorkersStartOnDemand) {
  Harness h;
  ConnId c = h.connect();
  for (int i = 0; i < 10; ++i) h.create(c);
  EXPECT_EQ(h.w.procs.pending_spawns(), 0u) << "creating a session must not start a worker";
  EXPECT_TRUE(h.w.procs.all().empty());
}

TEST(Catalogue, ShutdownGivesUpAtItsDeadlineOnAnUnkillableChild) {
  Harness h;
  ConnId c = h.connect();
  std::string a = h.create(c);
  h.w.procs.next_behaviour = {.dies_on_hup = false, .dies_on_term = false, .dies_on_kill = false};
  warm_worker(h, c, a);
  std::optional<bool> clean;
  h.gw->shutdown([&](bool ok) { clean = ok; });
  h.w.advance(h.gw->shutdown_deadline() - 1);
  EXPECT_FALSE(clean) << "the ladder and its KILL retries get their whole time";
  h.w.advance(1);
  ASSERT_TRUE(clean);
  EXPECT_FALSE(*clean) << "a child stuck in uninterruptible sleep: the shutdown is given up";
  h.gw->shutdown([&](bool) { ADD_FAILURE() << "a second shutdown is not reported again"; });
  h.w.advance(h.gw->shutdown_deadline() * 2);
}

TEST(Catalogue, ShutdownTearsEverythingDownAndReportsWhenDone) {
  Harness h;
  ConnId c = h.connect();
  std::string a = h.create(c);
  warm_worker(h, c, a);
  std::string b = h.create(c, false);
  h.send(c, "slash.exec", {{"session_id", b}, {"command", "/echo x"}});
  h.w.settle();  // b's spawn is still in flight
  bool done = false;
  h.gw->shutdown([&](bool clean) { done = clean; });
  h.w.settle();
  EXPECT_FALSE(done) << "children are still dying and a spawn is in flight";
  h.w.procs.complete_spawn();
  h.w.settle();
  h.w.advance(5'000);
  EXPECT_TRUE(done);
  for (const auto& [id, child] : h.w.procs.all()) EXPECT_TRUE(child.released);
  Json r = h.call(c, "gateway.stats");
  EXPECT_EQ(h.error_code(r), rpc::internal_error);
}

}  // namespace
}  // namespace lifeline::testing

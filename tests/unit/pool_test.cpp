// docs/DESIGN.md rule 18, the warm worker pool, against the core with hand-driven ports:
// started ahead of need, taken whole by one session, never reused, refilled after a
// backoff when it fails, drained at shutdown.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "core/worker_protocol.hpp"
#include "tests/support/harness.hpp"

namespace lifeline::testing {
namespace {

GatewayConfig pool_config(std::int64_t n) {
  GatewayConfig c = test_config();
  c.worker_pool = n;
  return c;
}

// A gateway whose pool of n has started.
struct PoolRig {
  explicit PoolRig(std::int64_t n) : h(pool_config(n)) {
    EXPECT_EQ(h.w.procs.pending_spawns(), static_cast<std::size_t>(n)) << "filled at start";
    while (h.w.procs.pending_spawns()) h.w.procs.complete_spawn();
    h.w.settle();
  }
  Harness h;
  std::vector<ChildId> pooled() const { return {h.gw->pooled().begin(), h.gw->pooled().end()}; }
};

TEST(Rule18_Pool, AFirstCommandTakesAPooledWorkerWithoutWaitingForASpawn) {
  PoolRig r(2);
  ASSERT_EQ(r.pooled().size(), 2u);
  ChildId first = r.pooled().front();
  const auto* child = r.h.w.procs.find(first);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->spec.argv,
            (std::vector<std::string>{"/fake/lifeline-slash-worker", "--pooled"}));
  ConnId c = r.h.connect();
  std::string id = r.h.create(c);
  std::string key = r.h.session(id)->key;
  int rid = r.h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo hi"}});
  r.h.w.settle();
  // The bind, then the command, went to the oldest pooled worker at once.
  ASSERT_EQ(child->writes.size(), 2u);
  EXPECT_EQ(child->writes[0], worker_protocol::encode_bind(key));
  EXPECT_EQ(r.h.session(id)->worker, first);
  r.h.w.procs.answer(first, true, "hi");
  r.h.w.settle();
  EXPECT_EQ(r.h.response(c, rid)["result"]["output"], "hi");
  // Refilled after the take, off its path (a timer, after the command went out): one
  // spawn, back to two.
  EXPECT_EQ(r.h.w.procs.pending_spawns(), 0u);
  r.h.w.advance(0);
  EXPECT_EQ(r.h.w.procs.pending_spawns(), 1u);
  r.h.w.procs.complete_spawn();
  r.h.w.settle();
  EXPECT_EQ(r.pooled().size(), 2u);
  Json workers = r.h.call(c, "gateway.workers")["result"]["workers"];
  int unbound = 0;
  for (const auto& w : workers) unbound += w["session_id"].is_null();
  EXPECT_EQ(unbound, 2) << workers.dump();
  r.h.expect_safe();
}

TEST(Rule18_Pool, AWorkerServesOneSessionAndEndsWithIt) {
  PoolRig r(1);
  ConnId c = r.h.connect();
  std::string a = r.h.create(c);
  r.h.w.procs.auto_answer = true;
  r.h.call(c, "slash.exec", {{"session_id", a}, {"command", "/echo a"}});
  ChildId served = *r.h.session(a)->worker;
  r.h.call(c, "session.close", {{"session_id", a}});
  r.h.settle_all(10'000);
  while (r.h.w.procs.pending_spawns()) r.h.w.procs.complete_spawn();  // the refill
  r.h.w.settle();
  const auto* child = r.h.w.procs.find(served);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(child->released) << "ended with its session, not returned to the pool";
  std::vector<ChildId> pool = r.pooled();
  EXPECT_EQ(std::count(pool.begin(), pool.end(), served), 0);
  std::string b = r.h.create(c);
  r.h.call(c, "slash.exec", {{"session_id", b}, {"command", "/echo b"}});
  ASSERT_TRUE(r.h.session(b)->worker);
  EXPECT_NE(*r.h.session(b)->worker, served);
  r.h.expect_safe();
}

TEST(Rule18_Pool, AResetTakesAPooledWorkerAndAnswersWithItsPid) {
  PoolRig r(2);
  ConnId c = r.h.connect();
  std::string id = r.h.create(c);
  r.h.w.procs.auto_answer = true;
  r.h.call(c, "slash.exec", {{"session_id", id}, {"command", "/echo a"}});
  ChildId before = *r.h.session(id)->worker;
  ChildId next = r.pooled().front();
  Json reset = r.h.call(c, "session.reset", {{"session_id", id}});
  EXPECT_EQ(reset["result"]["restarted"], true) << reset.dump();
  EXPECT_EQ(reset["result"]["worker_pid"], r.h.w.procs.find(next)->pid);
  EXPECT_EQ(*r.h.session(id)->worker, next);
  EXPECT_NE(next, before);
  r.h.expect_safe();
}

TEST(Rule18_Pool, APooledWorkerThatDiesIsReapedAndReplacedAfterABackoff) {
  PoolRig r(1);
  ChildId dead = r.pooled().front();
  r.h.w.procs.exit_child(dead, 1);
  r.h.w.settle();
  EXPECT_TRUE(r.pooled().empty());
  EXPECT_TRUE(r.h.w.procs.find(dead)->released) << "reaped and released like any child";
  EXPECT_EQ(r.h.w.procs.pending_spawns(), 0u) << "no refill in a tight loop";
  r.h.w.advance(100);
  EXPECT_EQ(r.h.w.procs.pending_spawns(), 1u);
  // A failed start doubles the wait.
  r.h.w.procs.complete_spawn(false);
  r.h.w.settle();
  EXPECT_EQ(r.h.gw->counters().spawn_failures, 1);
  r.h.w.advance(199);
  EXPECT_EQ(r.h.w.procs.pending_spawns(), 0u);
  r.h.w.advance(1);
  EXPECT_EQ(r.h.w.procs.pending_spawns(), 1u);
  r.h.w.procs.complete_spawn();
  r.h.w.settle();
  EXPECT_EQ(r.pooled().size(), 1u);
  r.h.expect_safe();
}

TEST(Rule18_Pool, ShutdownDrainsThePoolAndTearsDownASpawnThatLandsLate) {
  Harness h(pool_config(2));
  ChildId ready = h.w.procs.complete_spawn();  // the other stays in flight
  h.w.settle();
  ASSERT_EQ(h.gw->pooled().size(), 1u);
  std::optional<bool> clean;
  h.gw->shutdown([&](bool ok) { clean = ok; });
  EXPECT_TRUE(h.gw->pooled().empty()) << "nothing is pooled once shutdown begins";
  EXPECT_FALSE(h.w.procs.find(ready)->signals.empty());
  h.w.settle();
  ChildId late = h.w.procs.complete_spawn();
  h.w.settle();
  EXPECT_TRUE(h.gw->pooled().empty());
  EXPECT_FALSE(h.w.procs.find(late)->signals.empty()) << "a late pool spawn is torn down";
  h.w.advance(5'000);
  ASSERT_TRUE(clean);
  EXPECT_TRUE(*clean);
  EXPECT_EQ(h.w.procs.pending_spawns(), 0u) << "no refill during shutdown";
  for (const auto& [id, child] : h.w.procs.all()) EXPECT_TRUE(child.released);
}

TEST(Rule18_Pool, ZeroTurnsThePoolOff) {
  Harness h(pool_config(0));
  EXPECT_EQ(h.w.procs.pending_spawns(), 0u);
  ConnId c = h.connect();
  std::string id = h.create(c);
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo a"}});
  h.w.settle();
  ASSERT_EQ(h.w.procs.pending_spawns(), 1u);
  h.w.procs.complete_spawn();
  h.w.settle();
  EXPECT_TRUE(h.gw->pooled().empty());
}

}  // namespace
}  // namespace lifeline::testing

// docs/DESIGN.md rule 15, the core's side of a shared store, against hand-driven ports:
// a gateway serves only while its lease is current by its own clock (counted from the
// renewal's request, a fifth early), ends its sessions when the lease lapses or was lost,
// names the owner of a history live elsewhere, and claims a lost instance's history in
// one store call whose loser is told who won.
#include <gtest/gtest.h>

#include "tests/support/harness.hpp"

namespace lifeline::testing {
namespace {

constexpr Millis ttl = 15'000;

GatewayConfig fleet_config() {
  GatewayConfig c = test_config();
  c.instance = "west";
  c.lease_ttl = ttl;
  return c;
}

struct FleetRig {
  FleetRig() : h(fleet_config(), /*shared_store=*/true) {}
  Harness h;
  sim::FakeStore& store() { return h.w.store; }
  // An ended session of another instance's history, and what find_session says holds it.
  std::string stored(const std::string& key, std::optional<SessionHolder> holder) {
    std::string id = "s-old-" + key;
    store().sessions[id] = SessionRecord{id, key, "t", false, 1, std::string("ws_disconnect"), {}};
    if (holder) store().holders[key] = *holder;
    return id;
  }
};

TEST(Rule15_Lease, NoSessionIsServedBeforeTheFirstRenewalIsAnswered) {
  Harness h(fleet_config(), /*shared_store=*/true);
  ConnId conn = h.connect();
  // The start's renewal is still queued: the request is answered before it.
  int early = h.send(conn, "session.create");
  h.w.settle();
  EXPECT_EQ(h.error_code(h.response(conn, early)), rpc::store_unavailable);
  EXPECT_EQ(h.w.store.renewals, 1);
  Json now = h.call(conn, "session.create");
  EXPECT_TRUE(now.contains("result")) << now.dump();
}

TEST(Rule15_Lease, TheLeaseCountsFromTheRequestAndEndsAFifthEarly) {
  FleetRig r;
  r.h.w.settle();  // the first renewal, sent at 0: current until 12 s
  ConnId c = r.h.connect();
  std::string id = r.h.create(c, false);
  r.store().hold_renewals = true;
  r.h.w.advance(ttl / 3);  // the second renewal goes out at 5 s ...
  ASSERT_EQ(r.store().held_renewals.size(), 1u);
  r.h.w.advance(3000);  // ... and is answered at 8 s
  auto answer = std::move(r.store().held_renewals.front());
  r.store().held_renewals.pop_front();
  answer();
  r.store().held_renewals.clear();
  // No later renewal is ever answered: the lease ends at 5 + 15 - 3 = 17 s, counted
  // from the request (from the answer it would be 8 + 12 = 20 s).
  r.h.w.advance(17'000 - 8000 - 1);
  r.store().held_renewals.clear();
  EXPECT_TRUE(r.h.gw->lease_current());
  EXPECT_NE(r.h.session(id), nullptr);
  r.h.w.advance(1);
  EXPECT_FALSE(r.h.gw->lease_current());
  EXPECT_EQ(r.h.session(id), nullptr) << "fenced: its session ended";
  r.h.w.settle();
  EXPECT_EQ(r.store().sessions[id].end_reason.value_or(""), "lease_lost");
  auto closed = r.h.events(c, "session.closed");
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0]["params"]["payload"]["reason"], "lease_lost");
  EXPECT_EQ(r.h.error_code(r.h.call(c, "session.create")), rpc::store_unavailable);
  r.h.expect_safe();
}

TEST(Rule15_Lease, ARenewalThatFindsTheLeaseLostEndsEverySessionThenServesAgain) {
  FleetRig r;
  r.h.w.settle();
  ConnId c = r.h.connect();
  std::string a = r.h.create(c, false), b = r.h.create(c, false);
  r.store().renewal = {true, {true, /*was_lost=*/true}};
  r.h.w.advance(ttl / 3);
  EXPECT_EQ(r.h.session(a), nullptr);
  EXPECT_EQ(r.h.session(b), nullptr);
  EXPECT_EQ(r.h.gw->counters().ended(EndReason::lease_lost), 2);
  r.store().renewal = {true, {true, false}};
  r.h.w.advance(ttl / 3);
  EXPECT_TRUE(r.h.gw->lease_current());
  EXPECT_TRUE(r.h.call(c, "session.create").contains("result"));
}

TEST(Rule15_Lease, AnotherHoldersLeaseUnderTheSameNameStopsServing) {
  FleetRig r;
  r.h.w.settle();
  ConnId c = r.h.connect();
  std::string a = r.h.create(c, false);
  r.store().renewal = {true, {/*renewed=*/false, false}};
  r.h.w.advance(ttl / 3);
  EXPECT_EQ(r.h.session(a), nullptr);
  EXPECT_FALSE(r.h.gw->lease_current());
  EXPECT_EQ(r.h.error_code(r.h.call(c, "session.create")), rpc::store_unavailable);
}

TEST(Rule15_Claim, AHistoryLiveOnAnInstanceWithACurrentLeaseIsRefusedNamingIt) {
  FleetRig r;
  r.h.w.settle();
  std::string old = r.stored("k1", SessionHolder{"s-east", "east", true});
  ConnId c = r.h.connect();
  Json reply = r.h.call(c, "session.resume", {{"session_id", old}});
  EXPECT_EQ(r.h.error_code(reply), rpc::session_elsewhere) << reply.dump();
  EXPECT_EQ(reply["error"]["data"]["instance"], "east");
  EXPECT_EQ(reply["error"]["data"]["session_id"], "s-east");
  EXPECT_TRUE(r.store().claims.empty()) << "nothing claimed from a live owner";
  EXPECT_TRUE(r.h.gw->sessions().empty());
}

TEST(Rule15_Claim, ALostInstancesHistoryIsClaimedNamingTheOwnerAndContinued) {
  FleetRig r;
  r.h.w.settle();
  std::string old = r.stored("k1", SessionHolder{"s-east", "east", false});
  ConnId c = r.h.connect();
  Json reply = r.h.call(c, "session.resume", {{"session_id", old}});
  ASSERT_TRUE(reply.contains("result")) << reply.dump();
  EXPECT_EQ(reply["result"]["claimed_from"], "east");
  EXPECT_EQ(reply["result"]["session_key"], "k1");
  ASSERT_EQ(r.store().claims.size(), 1u);
  EXPECT_EQ(r.store().claims[0].lost_owner.value_or(""), "east");
  std::string id = reply["result"]["session_id"];
  EXPECT_EQ(r.store().claims[0].rec.session_id, id);
  ASSERT_NE(r.h.session(id), nullptr);
  EXPECT_EQ(r.h.session(id)->key, "k1");
  r.h.expect_safe();
}

TEST(Rule15_Claim, AnEndedHistoryNobodyHoldsIsClaimedWithoutAnOwner) {
  FleetRig r;
  r.h.w.settle();
  std::string old = r.stored("k1", std::nullopt);
  ConnId c = r.h.connect();
  Json reply = r.h.call(c, "session.resume", {{"session_id", old}});
  ASSERT_TRUE(reply.contains("result")) << reply.dump();
  EXPECT_FALSE(reply["result"].contains("claimed_from"));
  ASSERT_EQ(r.store().claims.size(), 1u);
  EXPECT_FALSE(r.store().claims[0].lost_owner.has_value());
}

TEST(Rule15_Claim, AClaimAnotherGatewayWonIsRefusedNamingTheWinner) {
  FleetRig r;
  r.h.w.settle();
  std::string old = r.stored("k1", SessionHolder{"s-east", "east", false});
  r.store().claim_answer = Claim{false, SessionHolder{"s-north", "north", true}};
  ConnId c = r.h.connect();
  Json reply = r.h.call(c, "session.resume", {{"session_id", old}});
  EXPECT_EQ(r.h.error_code(reply), rpc::session_elsewhere) << reply.dump();
  EXPECT_EQ(reply["error"]["data"]["instance"], "north");
  EXPECT_TRUE(r.h.gw->sessions().empty()) << "a lost claim is never served";
}

TEST(Rule15_Claim, AClaimWonAfterItsClientLeftIsEndedAtOnce) {
  FleetRig r;
  r.h.w.settle();
  std::string old = r.stored("k1", std::nullopt);
  ConnId c = r.h.connect();
  r.h.send(c, "session.resume", {{"session_id", old}});
  // find_session answers; the claim is sent; the client goes before it is answered.
  r.h.w.tasks.run_all(1);
  ASSERT_EQ(r.store().claims.size(), 1u);
  std::string id = r.store().claims[0].rec.session_id;
  r.h.disconnect(c);
  EXPECT_TRUE(r.h.gw->sessions().empty());
  EXPECT_EQ(r.store().sessions[id].end_reason.value_or("(open)"), "ws_disconnect")
      << "the store never shows open a session no gateway serves";
}

TEST(Rule15_Claim, TwoResumesOfOneHistoryHereAtOnceClaimOnce) {
  FleetRig r;
  r.h.w.settle();
  std::string old = r.stored("k1", std::nullopt);
  ConnId c = r.h.connect();
  int first = r.h.send(c, "session.resume", {{"session_id", old}});
  int second = r.h.send(c, "session.resume", {{"session_id", old}});
  r.h.w.settle();
  EXPECT_EQ(r.store().claims.size(), 1u);
  EXPECT_TRUE(r.h.response(c, first).contains("result"));
  EXPECT_EQ(r.h.error_code(r.h.response(c, second)), rpc::session_elsewhere);
  EXPECT_EQ(r.h.gw->sessions().size(), 1u);
}

}  // namespace
}  // namespace lifeline::testing

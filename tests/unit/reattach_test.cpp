// docs/DESIGN.md rule 16, docs/PROTOCOL.md pty.list / pty.attach: a terminal outlives the
// connection that opened it, keeps its recent output while detached, and a client that
// comes back sees it, then the live output, with nothing lost or drawn twice.
#include <gtest/gtest.h>

#include "core/base64.hpp"
#include "tests/support/harness.hpp"

using namespace lifeline;
using namespace lifeline::testing;

namespace {
std::string decoded(const Json& v) {
  return *base64::decode(v.get<std::string>());
}
}  // namespace

TEST(Rule16_Reattach, ListShowsLiveAndExitedTerminalsInOpeningOrder) {
  Harness h;
  ConnId c = h.connect();
  std::string sid = h.create(c, /*close_on_disconnect=*/false);
  std::string first = h.open_pty(c, sid);
  std::string second = h.open_pty(c, sid);
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  h.w.procs.exit_child(h.session(sid)->ptys.at(first), 3);
  h.w.settle();
  Json list = h.call(c, "pty.list", {{"session_id", sid}})["result"]["terminals"];
  ASSERT_EQ(list.size(), 2u) << list.dump();
  EXPECT_EQ(list[0]["pty_id"], first);
  EXPECT_EQ(list[0]["exited"], true);
  EXPECT_EQ(list[0]["status"], 3);
  EXPECT_EQ(list[1]["pty_id"], second);
  EXPECT_EQ(list[1]["exited"], false);
  EXPECT_FALSE(list[1].contains("status"));
  EXPECT_EQ(list[1]["cols"], 80);
  EXPECT_EQ(h.error_code(h.call(c, "pty.list", {{"session_id", "nope"}})), rpc::session_not_found);
  // Closing an exited terminal forgets it.
  EXPECT_EQ(h.call(c, "pty.close", {{"pty_id", first}})["result"]["closed"], false);
  EXPECT_EQ(h.call(c, "pty.list", {{"session_id", sid}})["result"]["terminals"].size(), 1u);
  h.expect_safe();
}

TEST(Rule16_Reattach, OutputWhileDetachedIsReplayedThenLiveOutputContinuesAtItsOffset) {
  Harness h;
  ConnId c = h.connect();
  std::string sid = h.create(c, /*close_on_disconnect=*/false);
  std::string pty_id = h.open_pty(c, sid);
  ChildId child = h.session(sid)->ptys.at(pty_id);
  h.w.procs.child_output(child, "before\n");
  h.w.settle();
  h.disconnect(c);
  h.w.procs.child_output(child, "while away\n");
  h.w.settle();
  EXPECT_TRUE(h.session(sid)->ptys.count(pty_id)) << "a detached session's terminal lives on";

  ConnId back = h.connect();
  // Attaching needs the session first: its events go to its holder only.
  Json refused = h.call(back, "pty.attach", {{"pty_id", pty_id}});
  EXPECT_EQ(h.error_code(refused), rpc::session_not_held) << refused.dump();
  ASSERT_TRUE(h.call(back, "session.resume", {{"session_id", sid}}).contains("result"));
  Json r = h.call(back, "pty.attach", {{"pty_id", pty_id}})["result"];
  EXPECT_EQ(decoded(r["data"]), "before\nwhile away\n");
  EXPECT_EQ(r["begin"], 0);
  EXPECT_EQ(r["end"], 18);
  EXPECT_EQ(r["exited"], false);
  EXPECT_EQ(r["cols"], 80);
  h.w.procs.child_output(child, "live\n");
  h.w.settle();
  auto out = h.events(back, "pty.output");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["params"]["payload"]["offset"], 18);
  EXPECT_EQ(decoded(out[0]["params"]["payload"]["data"]), "live\n");
  EXPECT_EQ(h.error_code(h.call(back, "pty.attach", {{"pty_id", "p-none"}})), rpc::pty_not_found);
  h.expect_safe();
}

TEST(Rule16_Reattach, TheRingKeepsItsBoundAndResizeIsRemembered) {
  GatewayConfig cfg = test_config();
  cfg.pty_replay_bytes = 64;
  Harness h(cfg);
  ConnId c = h.connect();
  std::string sid = h.create(c);
  std::string pty_id = h.open_pty(c, sid);
  ChildId child = h.session(sid)->ptys.at(pty_id);
  std::string all;
  for (int i = 0; i < 40; ++i) {
    std::string line = "output line " + std::to_string(i) + "\n";
    all += line;
    h.w.procs.child_output(child, line);
    h.w.settle();
  }
  ASSERT_TRUE(h.call(c, "pty.resize", {{"pty_id", pty_id}, {"cols", 120}, {"rows", 40}})
                  .contains("result"));
  Json r = h.call(c, "pty.attach", {{"pty_id", pty_id}})["result"];
  std::string kept = decoded(r["data"]);
  EXPECT_LE(kept.size(), 64u);
  EXPECT_EQ(r["end"], all.size());
  EXPECT_EQ(all.substr(r["begin"].get<std::size_t>()), kept);
  EXPECT_EQ(r["cols"], 120);
  EXPECT_EQ(r["rows"], 40);
  h.expect_safe();
}

TEST(Rule16_Reattach, ExitedTerminalsAreKeptOnlyUpToMaxPtys) {
  GatewayConfig cfg = test_config();
  cfg.max_ptys = 2;
  Harness h(cfg);
  ConnId c = h.connect();
  std::string sid = h.create(c);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    std::string id = h.open_pty(c, sid);
    ASSERT_FALSE(id.empty());
    h.w.procs.exit_child(h.session(sid)->ptys.at(id), i);
    h.w.settle();
    ids.push_back(id);
  }
  Json list = h.call(c, "pty.list", {{"session_id", sid}})["result"]["terminals"];
  ASSERT_EQ(list.size(), 2u) << list.dump();
  EXPECT_EQ(list[0]["pty_id"], ids[2]);
  EXPECT_EQ(list[1]["pty_id"], ids[3]);
  EXPECT_EQ(h.error_code(h.call(c, "pty.attach", {{"pty_id", ids[0]}})), rpc::pty_not_found);
  Json r = h.call(c, "pty.attach", {{"pty_id", ids[3]}})["result"];
  EXPECT_EQ(r["exited"], true);
  EXPECT_EQ(r["status"], 3);
  h.expect_safe();
}

TEST(Rule16_Reattach, ATakenOverConnectionCannotListOrAttach) {
  Harness h;
  ConnId a = h.connect();
  std::string sid = h.create(a, /*close_on_disconnect=*/false);
  std::string pty_id = h.open_pty(a, sid);
  ConnId b = h.connect();
  ASSERT_TRUE(h.call(b, "session.resume", {{"session_id", sid}}).contains("result"));
  EXPECT_EQ(h.error_code(h.call(a, "pty.list", {{"session_id", sid}})), rpc::session_taken_over);
  EXPECT_EQ(h.error_code(h.call(a, "pty.attach", {{"pty_id", pty_id}})), rpc::session_taken_over);
  EXPECT_TRUE(h.call(b, "pty.attach", {{"pty_id", pty_id}}).contains("result"));
  h.expect_safe();
}

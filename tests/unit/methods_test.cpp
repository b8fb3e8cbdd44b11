// Every method of docs/PROTOCOL.md through the dispatcher, and docs/DESIGN.md rule 11: bad input
// gets a JSON-RPC error, never a crash, a hang or a leak.
#include <gtest/gtest.h>

#include "core/base64.hpp"
#include "tests/support/harness.hpp"

namespace lifeline::testing {
namespace {

TEST(Hello, EveryConnectionStartsWithGatewayReady) {
  Harness h;
  ConnId c = h.connect();
  auto ready = h.events(c, "gateway.ready");
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0]["params"]["payload"]["protocol"], 1);
  EXPECT_TRUE(ready[0]["params"]["payload"]["connection_id"].is_string());
  EXPECT_FALSE(ready[0]["params"]["payload"].contains("instance"));
  GatewayConfig named = test_config();
  named.instance = "gw-a";
  Harness h2(named);
  ConnId c2 = h2.connect();
  EXPECT_EQ(h2.events(c2, "gateway.ready")[0]["params"]["payload"]["instance"], "gw-a");
}

TEST(Methods, CreateReturnsIdsAndValidatesParams) {
  Harness h;
  ConnId c = h.connect();
  Json r = h.call(c, "session.create", {{"title", "t"}});
  EXPECT_TRUE(r["result"]["session_id"].is_string());
  EXPECT_TRUE(r["result"]["session_key"].is_string());
  EXPECT_EQ(r["result"]["created_at"], h.w.clock.wall_now());
  EXPECT_EQ(h.error_code(h.call(c, "session.create", {{"close_on_disconnect", "yes"}})),
            rpc::invalid_params);
  EXPECT_EQ(h.error_code(h.call(c, "session.create", {{"title", 5}})), rpc::invalid_params);
  EXPECT_EQ(h.error_code(h.call(c, "session.create", {{"color", "red"}})), rpc::invalid_params);
  ASSERT_EQ(h.w.store.sessions.size(), 1u);
  // docs/PROTOCOL.md: title <= 256 bytes (bytes, not characters).
  EXPECT_TRUE(h.call(c, "session.create", {{"title", std::string(256, 'x')}}).contains("result"));
  EXPECT_EQ(h.error_code(h.call(c, "session.create", {{"title", std::string(257, 'x')}})),
            rpc::invalid_params);
  std::string euro = "\xe2\x82\xac";  // 3 bytes, 1 character
  std::string long_title;
  for (int i = 0; i < 86; ++i) long_title += euro;  // 258 bytes
  EXPECT_EQ(h.error_code(h.call(c, "session.create", {{"title", long_title}})),
            rpc::invalid_params);
  EXPECT_EQ(h.w.store.sessions.size(), 2u);
}

TEST(Rule14_Methods, TitlesRefuseControlAndBidiOverrideCharacters) {
  Harness h;
  ConnId c = h.connect();
  for (const std::string& bad :
       {std::string("a\x1b[2Jb"), std::string("line\nbreak"), std::string("tab\there"),
        std::string("c1 \xc2\x9b here"), std::string("rlo \xe2\x80\xae txt.exe"),
        std::string("lre \xe2\x80\xaa"), std::string("fsi \xe2\x81\xa8"),
        std::string("pdi \xe2\x81\xa9")}) {
    Json r = h.call(c, "session.create", {{"title", bad}});
    EXPECT_EQ(h.error_code(r), rpc::invalid_params) << bad;
  }
  EXPECT_TRUE(h.w.store.sessions.empty());
  // Ordinary text, accents, CJK, emoji and the harmless marks (LRM U+200E) pass.
  for (const std::string& good :
       {std::string("build #42"), std::string("caf\xc3\xa9"),
        std::string("\xe6\xbc\xa2\xe5\xad\x97"), std::string("\xf0\x9f\x9a\x80"),
        std::string("a\xe2\x80\x8e"
                    "b")})
    EXPECT_TRUE(h.call(c, "session.create", {{"title", good}}).contains("result")) << good;
}

TEST(Methods, ResumeByAnotherConnectionTellsTheFormerHolderItWasTakenOver) {
  Harness h;
  ConnId a = h.connect();
  ConnId b = h.connect();
  std::string id = h.create(a, /*close_on_disconnect=*/false);
  Json r = h.call(b, "session.resume", {{"session_id", id}});
  ASSERT_TRUE(r.contains("result")) << r.dump();
  auto told = h.events(a, "session.taken_over");
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0]["params"]["session_id"], id);
  EXPECT_TRUE(h.events(b, "session.taken_over").empty());
  // The former holder no longer holds it: its disconnect does not detach the session.
  h.disconnect(a);
  ASSERT_TRUE(h.session(id));
  EXPECT_EQ(h.session(id)->conn, b);
  // A resume by the holder itself, or of a detached session, announces nothing.
  h.call(b, "session.resume", {{"session_id", id}});
  h.disconnect(b);
  ConnId c = h.connect();
  h.call(c, "session.resume", {{"session_id", id}});
  EXPECT_EQ(h.events(b, "session.taken_over").size(), 0u);
  EXPECT_EQ(h.events(a, "session.taken_over").size(), 1u);
  h.expect_safe();
}

TEST(Rule14_Methods, ATakeoverRevokesTheFormerHolderUntilItResumes) {
  Harness h;
  ConnId a = h.connect();
  ConnId b = h.connect();
  std::string id = h.create(a, /*close_on_disconnect=*/false);
  std::string pty = h.open_pty(a, id);
  ASSERT_FALSE(pty.empty());
  ChildId child = h.session(id)->ptys.at(pty);
  ASSERT_TRUE(h.call(b, "session.resume", {{"session_id", id}}).contains("result"));
  // Everything the old tab may still send on that session or its terminal is refused,
  // and none of it reaches the session's children.
  const std::vector<std::pair<std::string, Json>> stale = {
      {"pty.write", {{"pty_id", pty}, {"data", "bHMK"}}},
      {"pty.resize", {{"pty_id", pty}, {"cols", 100}, {"rows", 30}}},
      {"pty.close", {{"pty_id", pty}}},
      {"pty.open", {{"session_id", id}, {"cols", 80}, {"rows", 24}}},
      {"slash.exec", {{"session_id", id}, {"command", "/echo from the old tab"}}},
      {"session.reset", {{"session_id", id}}},
      {"session.close", {{"session_id", id}}},
  };
  for (const auto& [method, params] : stale) {
    Json r = h.call(a, method, params);
    EXPECT_EQ(h.error_code(r), rpc::session_taken_over) << method << ": " << r.dump();
    if (r.contains("error")) {
      EXPECT_EQ(r["error"]["data"]["session_id"], id);
    }
  }
  EXPECT_TRUE(h.w.procs.find(child)->writes.empty());
  EXPECT_EQ(h.w.procs.pending_spawns(), 0u);
  ASSERT_TRUE(h.session(id));
  EXPECT_EQ(h.session(id)->ptys.size(), 1u);
  // The new holder is not affected; reading the transcript is not refused.
  EXPECT_TRUE(h.call(b, "pty.write", {{"pty_id", pty}, {"data", "bHMK"}}).contains("result"));
  EXPECT_TRUE(h.call(a, "session.history", {{"session_id", id}}).contains("result"));
  // An explicit resume takes it back, and revokes the other side in turn.
  ASSERT_TRUE(h.call(a, "session.resume", {{"session_id", id}}).contains("result"));
  EXPECT_TRUE(h.call(a, "pty.write", {{"pty_id", pty}, {"data", "bHMK"}}).contains("result"));
  EXPECT_EQ(h.error_code(h.call(b, "pty.write", {{"pty_id", pty}, {"data", "bHMK"}})),
            rpc::session_taken_over);
  // A third connection that never held it is one principal too: not revoked.
  ConnId c = h.connect();
  EXPECT_TRUE(
      h.call(c, "pty.resize", {{"pty_id", pty}, {"cols", 90}, {"rows", 20}}).contains("result"));
  h.expect_safe();
}

TEST(Rule12_Methods, TerminalInputIsBoundedInBytesAndRefusedWhole) {
  GatewayConfig cfg = test_config();
  cfg.max_pending_input_bytes = 1000;
  Harness h(cfg);
  ConnId c = h.connect();
  std::string id = h.create(c);
  std::string pty = h.open_pty(c, id);
  ChildId child = h.session(id)->ptys.at(pty);
  std::string b600 = base64::encode(std::string(600, 'a'));
  EXPECT_TRUE(h.call(c, "pty.write", {{"pty_id", pty}, {"data", b600}}).contains("result"));
  h.w.procs.unwritten_bytes[child] = 600;  // the shell has not read it
  Json r = h.call(c, "pty.write", {{"pty_id", pty}, {"data", b600}});
  EXPECT_EQ(h.error_code(r), rpc::input_limit) << r.dump();
  EXPECT_EQ(h.w.procs.find(child)->writes.size(), 1u) << "the refused write reached the child";
  // What still fits is taken; once the shell reads, more is.
  EXPECT_TRUE(
      h.call(c, "pty.write", {{"pty_id", pty}, {"data", base64::encode(std::string(400, 'b'))}})
          .contains("result"));
  h.w.procs.unwritten_bytes[child] = 0;
  EXPECT_TRUE(h.call(c, "pty.write", {{"pty_id", pty}, {"data", b600}}).contains("result"));
  h.expect_safe();
}

TEST(Rule12_Methods, QueuedCommandsAreBoundedInBytesAsWellAsCount) {
  GatewayConfig cfg = test_config();
  cfg.max_pending_input_bytes = 1000;
  Harness h(cfg);
  ConnId c = h.connect();
  std::string id = h.create(c);
  std::string big = "/echo " + std::string(400, 'x');               // 406 bytes
  h.send(c, "slash.exec", {{"session_id", id}, {"command", big}});  // waits for its worker
  h.send(c, "slash.exec", {{"session_id", id}, {"command", big}});
  h.w.settle();
  ASSERT_EQ(h.session(id)->queue.size(), 2u);
  Json r = h.call(c, "slash.exec", {{"session_id", id}, {"command", big}});
  EXPECT_EQ(h.error_code(r), rpc::input_limit) << r.dump();
  EXPECT_EQ(h.session(id)->queue.size(), 2u);
  EXPECT_EQ(h.session(id)->queued_bytes(), 812);
  // A short one still fits.
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo ok"}});
  h.w.settle();
  EXPECT_EQ(h.session(id)->queue.size(), 3u);
  h.expect_safe();
}

TEST(Methods, ABackedUpConnectionPausesItsTerminalsAndOnlyThose) {
  Harness h;
  ConnId a = h.connect();
  ConnId b = h.connect();
  std::string sa = h.create(a, /*close_on_disconnect=*/false);
  std::string sb = h.create(b);
  auto open = [&](ConnId c, const std::string& sid) {
    int rid = h.send_pty_open(c, sid);
    h.w.settle();
    h.w.procs.complete_spawn();
    h.w.settle();
    return h.session(sid)->ptys.at(h.response(c, rid)["result"]["pty_id"].get<std::string>());
  };
  ChildId pa = open(a, sa);
  ChildId pb = open(b, sb);
  EXPECT_TRUE(h.w.procs.output_paused.empty());
  h.gw->on_backpressure(a, true);
  EXPECT_EQ(h.w.procs.output_paused, (std::set<ChildId>{pa}));
  ChildId pa2 = open(a, sa);  // opened while backed up: paused from the start
  EXPECT_EQ(h.w.procs.output_paused, (std::set<ChildId>{pa, pa2}));
  h.gw->on_backpressure(a, false);
  EXPECT_TRUE(h.w.procs.output_paused.empty());
  // A takeover moves the session to a connection that is not backed up: it resumes.
  h.gw->on_backpressure(a, true);
  h.call(b, "session.resume", {{"session_id", sa}});
  EXPECT_TRUE(h.w.procs.output_paused.empty());
  (void)pb;
  Json stats = h.call(b, "gateway.stats")["result"];
  EXPECT_EQ(stats["connections"], 2);
}

TEST(Methods, HistoryPagesBackByBeforeSeqAndStaysUnderTheReplyBound) {
  GatewayConfig cfg = test_config();
  cfg.max_reply_bytes = 4096;
  Harness h(cfg);
  h.w.procs.auto_answer = true;
  ConnId c = h.connect();
  Json created = h.call(c, "session.create");
  std::string id = created["result"]["session_id"];
  std::string key = created["result"]["session_key"];
  // 12 entries of about 600 bytes each: more than one 4 KiB reply holds.
  for (int i = 1; i <= 12; ++i) {
    h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo " + std::string(600, 'a')}});
    h.w.settle();
    while (h.w.procs.pending_spawns()) h.w.procs.complete_spawn();
    h.w.settle();
  }
  ASSERT_EQ(h.w.store.entries[key].size(), 12u);
  // Paging back from the newest, every entry arrives exactly once, oldest first in a page.
  std::vector<std::int64_t> seen;
  Json before = nullptr;
  for (int pages = 0; pages < 20; ++pages) {
    Json params = {{"session_key", key}};
    if (!before.is_null()) params["before_seq"] = before;
    int rid = h.send(c, "session.history", params);
    h.w.settle();
    std::string raw;
    for (const auto& m : h.w.transport.sent(c))
      if (m.contains("id") && m["id"] == rid) raw = m.dump();
    Json r = Json::parse(raw);
    ASSERT_TRUE(r.contains("result")) << raw.substr(0, 200);
    EXPECT_LE(raw.size(), 4096u) << "the reply exceeds --max-reply-bytes";
    const Json& entries = r["result"]["entries"];
    ASSERT_FALSE(entries.empty());
    for (std::size_t i = 1; i < entries.size(); ++i)
      EXPECT_LT(entries[i - 1]["seq"].get<std::int64_t>(), entries[i]["seq"].get<std::int64_t>());
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) seen.push_back((*it)["seq"]);
    before = entries[0]["seq"];
    if (!r["result"]["more"].get<bool>()) break;
  }
  std::vector<std::int64_t> expected;
  for (std::int64_t s = 12; s >= 1; --s) expected.push_back(s);
  EXPECT_EQ(seen, expected);
  // limit still applies, and more says whether older entries remain.
  Json two = h.call(c, "session.history", {{"session_key", key}, {"limit", 2}});
  ASSERT_EQ(two["result"]["entries"].size(), 2u);
  EXPECT_EQ(two["result"]["entries"][1]["seq"], 12);
  EXPECT_EQ(two["result"]["more"], true);
  Json oldest = h.call(c, "session.history", {{"session_key", key}, {"before_seq", 2}});
  ASSERT_EQ(oldest["result"]["entries"].size(), 1u);
  EXPECT_EQ(oldest["result"]["more"], false);
  EXPECT_EQ(h.error_code(h.call(c, "session.history", {{"session_key", key}, {"before_seq", 0}})),
            rpc::invalid_params);
  EXPECT_EQ(h.error_code(h.call(c, "session.history", {{"session_key", key}, {"before_seq", "x"}})),
            rpc::invalid_params);
}

TEST(Methods, PerConnectionSessionLimit) {
  GatewayConfig cfg = test_config();
  cfg.max_sessions_per_connection = 2;
  Harness h(cfg);
  ConnId c = h.connect();
  h.create(c);
  h.create(c);
  EXPECT_EQ(h.error_code(h.call(c, "session.create")), rpc::limit_reached);
  ConnId d = h.connect();
  h.create(d);
}

TEST(Methods, ExecRunsCommandsOneAtATimeInArrivalOrderAndStoresThem) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  int r1 = h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo 1"}});
  int r2 = h.send(c, "slash.exec", {{"session_id", id}, {"command", " /echo 2 "}});
  h.w.settle();
  EXPECT_EQ(h.session(id)->status(), SessionStatus::starting);
  ChildId w = h.w.procs.complete_spawn();
  h.w.settle();
  ASSERT_EQ(h.w.procs.find(w)->writes.size(), 1u) << "the second waits for the first";
  h.w.procs.answer(w, true, "one");
  h.w.settle();
  ASSERT_EQ(h.w.procs.find(w)->writes.size(), 2u);
  EXPECT_NE(h.w.procs.find(w)->writes[1].find("/echo 2\""), std::string::npos) << "trimmed";
  h.w.procs.answer(w, false, "boom");
  h.w.settle();
  EXPECT_EQ(h.response(c, r1)["result"]["output"], "one");
  EXPECT_EQ(h.response(c, r1)["result"]["seq"], 1);
  EXPECT_EQ(h.response(c, r2)["result"]["ok"], false);
  EXPECT_EQ(h.response(c, r2)["result"]["error"], "boom");
  EXPECT_EQ(h.response(c, r2)["result"]["output"], "boom");
  Json hist = h.call(c, "session.history", {{"session_id", id}});
  ASSERT_EQ(hist["result"]["entries"].size(), 2u);
  EXPECT_EQ(hist["result"]["entries"][0]["command"], "/echo 1");
  EXPECT_EQ(hist["result"]["entries"][1]["error"], "boom");
  Json limited = h.call(c, "session.history", {{"session_id", id}, {"limit", 1}});
  ASSERT_EQ(limited["result"]["entries"].size(), 1u);
  EXPECT_EQ(limited["result"]["entries"][0]["seq"], 2);
}

TEST(Methods, ExecErrors) {
  GatewayConfig cfg = test_config();
  cfg.max_queued_commands = 2;
  Harness h(cfg);
  ConnId c = h.connect();
  std::string id = h.create(c);
  EXPECT_EQ(h.error_code(h.call(c, "slash.exec", {{"session_id", "nope"}, {"command", "/x"}})),
            rpc::session_not_found);
  EXPECT_EQ(h.error_code(h.call(c, "slash.exec", {{"session_id", id}, {"command", "  "}})),
            rpc::empty_command);
  EXPECT_EQ(h.error_code(h.call(c, "slash.exec", {{"session_id", id}})), rpc::invalid_params);
  EXPECT_EQ(h.error_code(h.call(c, "slash.exec", {{"session_id", id}, {"command", "a\nb"}})),
            rpc::invalid_params);
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/a"}});
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/b"}});
  EXPECT_EQ(h.error_code(h.call(c, "slash.exec", {{"session_id", id}, {"command", "/c"}})),
            rpc::limit_reached);
}

TEST(Methods, SpawnFailureAnswers5030AndTheNextCommandTriesAgain) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  int r = h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo x"}});
  h.w.settle();
  h.w.procs.complete_spawn(false, "exec: No such file or directory");
  h.w.settle();
  Json resp = h.response(c, r);
  EXPECT_EQ(h.error_code(resp), rpc::worker_spawn_failed);
  EXPECT_EQ(resp["error"]["data"], "exec: No such file or directory");
  EXPECT_EQ(h.call(c, "gateway.stats")["result"]["spawn_failures"], 1);
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo y"}});
  h.w.settle();
  EXPECT_EQ(h.w.procs.pending_spawns(), 1u);
  h.settle_all();
}

TEST(Methods, TimeoutAnswers5032AndReplacesTheWorker) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  int r = h.send(c, "slash.exec", {{"session_id", id}, {"command", "/sleep 999"}});
  h.w.settle();
  ChildId w = h.w.procs.complete_spawn();
  h.w.settle();
  h.w.advance(5'000);
  EXPECT_EQ(h.error_code(h.response(c, r)), rpc::worker_timed_out);
  EXPECT_FALSE(h.session(id)->worker);
  h.w.procs.answer(w, true, "too late");  // a late answer is ignored
  h.w.settle();
  h.settle_all();
  EXPECT_TRUE(h.w.procs.find(w)->released);
}

TEST(Methods, StoreFailureAnswers5033AndSaysTheCommandRan) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  int r = h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo x"}});
  h.w.settle();
  ChildId w = h.w.procs.complete_spawn();
  h.w.settle();
  h.w.store.fail_writes = true;
  h.w.procs.answer(w, true, "x");
  h.w.settle();
  Json resp = h.response(c, r);
  EXPECT_EQ(h.error_code(resp), rpc::store_unavailable);
  EXPECT_EQ(resp["error"]["data"]["ran"], true);
  EXPECT_EQ(resp["error"]["data"]["output"], "x");
  h.w.store.fail_reads = true;
  EXPECT_EQ(h.error_code(h.call(c, "session.history", {{"session_id", id}})),
            rpc::store_unavailable);
}

TEST(Methods, ResetRestartsTheWorker) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  int r = h.send(c, "slash.exec", {{"session_id", id}, {"command", "/sleep 10"}});
  h.w.settle();
  ChildId first = h.w.procs.complete_spawn();
  h.w.settle();
  int reset = h.send(c, "session.reset", {{"session_id", id}});
  h.w.settle();
  EXPECT_EQ(h.error_code(h.response(c, r)), rpc::worker_exited);
  ChildId second = h.w.procs.complete_spawn();
  h.w.settle();
  Json resp = h.response(c, reset);
  EXPECT_EQ(resp["result"]["restarted"], true);
  EXPECT_EQ(resp["result"]["worker_pid"], h.w.procs.find(second)->pid);
  EXPECT_EQ(h.error_code(h.call(c, "session.reset", {{"session_id", "gone"}})),
            rpc::session_not_found);
  h.w.advance(5'000);
  EXPECT_TRUE(h.w.procs.find(first)->released);
}

TEST(Methods, ResumeFromTheStoreContinuesTheHistoryUnderANewId) {
  Harness h;
  h.w.procs.auto_answer = true;
  ConnId c = h.connect();
  Json created = h.call(c, "session.create", {{"title", "notes"}});
  std::string id = created["result"]["session_id"];
  std::string key = created["result"]["session_key"];
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo a"}});
  h.w.settle();
  h.w.procs.complete_spawn();
  h.w.settle();
  h.call(c, "session.close", {{"session_id", id}});
  Json r = h.call(c, "session.resume", {{"session_id", id}});
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_EQ(r["result"]["from_store"], true);
  EXPECT_EQ(r["result"]["session_key"], key);
  std::string fresh = r["result"]["session_id"];
  EXPECT_NE(fresh, id);
  Json list = h.call(c, "session.active_list")["result"]["sessions"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["title"], "notes");
  Json again = h.call(c, "session.resume", {{"session_id", id}});
  EXPECT_EQ(again["result"]["session_id"], fresh) << "a second resume joins the live continuation";
  Json hist = h.call(c, "session.history", {{"session_key", key}});
  EXPECT_EQ(hist["result"]["entries"].size(), 1u);
  EXPECT_EQ(h.error_code(h.call(c, "session.resume", {{"session_id", "unknown"}})),
            rpc::nothing_to_resume);
  h.w.store.fail_reads = true;
  EXPECT_EQ(h.error_code(h.call(c, "session.resume", {{"session_id", "unknown"}})),
            rpc::store_unavailable);
}

TEST(Methods, ResumeFromTheStoreForAConnectionThatLeftCreatesNothing) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  h.call(c, "session.close", {{"session_id", id}});
  h.send(c, "session.resume", {{"session_id", id}});
  h.disconnect(c);  // the store answers after the connection is gone
  h.w.settle();
  EXPECT_TRUE(h.gw->sessions().empty());
}

TEST(Methods, HistoryNeedsExactlyOneSelector) {
  Harness h;
  ConnId c = h.connect();
  EXPECT_EQ(h.error_code(h.call(c, "session.history")), rpc::invalid_params);
  EXPECT_EQ(h.error_code(h.call(c, "session.history", {{"session_id", "a"}, {"session_key", "b"}})),
            rpc::invalid_params);
  EXPECT_EQ(h.error_code(h.call(c, "session.history", {{"session_id", "nope"}})),
            rpc::session_not_found);
  EXPECT_EQ(h.error_code(h.call(c, "session.history", {{"session_key", "k"}, {"limit", 0}})),
            rpc::invalid_params);
  EXPECT_EQ(h.call(c, "session.history", {{"session_key", "k"}})["result"]["entries"].size(), 0u);
}

// Above the range (read by nlohmann as unsigned, even past INT64_MAX) and below it, an
// integer param gets the one message that names the range.
TEST(Methods, AnOutOfRangeIntegerIsNamedWithItsRangeOnEitherSide) {
  Harness h;
  ConnId c = h.connect();
  for (Json limit : {Json(0), Json(10001), Json(18446744073709551615ULL), Json(-5)}) {
    Json r = h.call(c, "session.history", {{"session_key", "k"}, {"limit", limit}});
    EXPECT_EQ(h.error_code(r), rpc::invalid_params) << limit;
    EXPECT_NE(r["error"]["message"].get<std::string>().find("between 1 and 10000"),
              std::string::npos)
        << r.dump();
  }
}

TEST(Methods, PtyOpenWriteResizeOutputExitClose) {
  Harness h;
  ConnId c = h.connect();
  std::string id = h.create(c);
  int open = h.send_pty_open(c, id);
  h.w.settle();
  ASSERT_EQ(h.w.procs.pending_spawns(), 1u);
  ChildId pty = h.w.procs.complete_spawn();
  h.w.settle();
  EXPECT_EQ(h.w.procs.find(pty)->spec.argv, (std::vector<std::string>{"/bin/sh"}));
  EXPECT_EQ(h.w.procs.find(pty)->spec.cols, 80);
  std::string pty_id = h.response(c, open)["result"]["pty_id"];
  EXPECT_TRUE(h.call(c, "pty.write", {{"pty_id", pty_id}, {"data", base64::encode("ls\n")}})
                  .contains("result"));
  EXPECT_EQ(h.w.procs.find(pty)->writes.back(), "ls\n");
  EXPECT_EQ(h.error_code(h.call(c, "pty.write", {{"pty_id", pty_id}, {"data", "!!"}})),
            rpc::invalid_params);
  EXPECT_EQ(h.error_code(h.call(c, "pty.write", {{"pty_id", "p0"}, {"data", ""}})),
            rpc::pty_not_found);
  EXPECT_TRUE(h.call(c, "pty.resize", {{"pty_id", pty_id}, {"cols", 100}, {"rows", 30}})
                  .contains("result"));
  EXPECT_EQ(h.error_code(h.call(c, "pty.resize", {{"pty_id", pty_id}, {"cols", 0}, {"rows", 30}})),
            rpc::invalid_params);
  h.w.procs.child_output(pty, "hello");
  h.w.settle();
  auto out = h.events(c, "pty.output");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(base64::decode(out[0]["params"]["payload"]["data"].get<std::string>()), "hello");
  EXPECT_EQ(h.call(c, "gateway.stats")["result"]["ptys_live"], 1);
  h.w.procs.exit_child(pty, 0);
  h.w.settle();
  auto ex = h.events(c, "pty.exit");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0]["params"]["payload"]["pty_id"], pty_id);
  EXPECT_TRUE(h.w.procs.find(pty)->released);
  EXPECT_EQ(h.call(c, "pty.close", {{"pty_id", pty_id}})["result"]["closed"], false);
  h.expect_safe();
}

TEST(Methods, PtyLimitPerSession) {
  GatewayConfig cfg = test_config();
  cfg.max_ptys_per_session = 1;
  Harness h(cfg);
  ConnId c = h.connect();
  std::string id = h.create(c);
  h.send_pty_open(c, id);
  EXPECT_EQ(h.error_code(h.call(c, "pty.open", {{"session_id", id}, {"cols", 80}, {"rows", 24}})),
            rpc::limit_reached);
  h.settle_all();
}

TEST(Methods, StatsAndWorkersListEveryChild) {
  Harness h;
  h.w.procs.auto_answer = true;
  ConnId c = h.connect();
  std::string id = h.create(c);
  h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo"}});
  h.send_pty_open(c, id);
  h.w.settle();
  h.w.procs.complete_spawn();
  h.w.procs.complete_spawn();
  h.w.settle();
  Json stats = h.call(c, "gateway.stats")["result"];
  EXPECT_EQ(stats["sessions_live"], 1);
  EXPECT_EQ(stats["sessions_detached"], 0);
  EXPECT_EQ(stats["workers_live"], 1);
  EXPECT_EQ(stats["ptys_live"], 1);
  EXPECT_TRUE(stats["open_fds"].is_number_integer());
  EXPECT_EQ(stats["reaped"]["client_close"], 0);
  Json workers = h.call(c, "gateway.workers")["result"]["workers"];
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers[0]["kind"], "slash");
  EXPECT_EQ(workers[1]["kind"], "pty");
  EXPECT_EQ(workers[0]["session_id"], id);
  Json list = h.call(c, "session.active_list")["result"]["sessions"];
  EXPECT_EQ(list[0]["worker_pid"], workers[0]["pid"]);
}

TEST(Rule11_BadInput, EveryMalformedMessageGetsTheRightErrorAndTheGatewayServesOn) {
  GatewayConfig cfg = test_config();
  cfg.max_message_bytes = 4096;
  Harness h(cfg);
  ConnId c = h.connect();
  struct Case {
    std::string text;
    int code;
  } cases[] = {
      {"not json", rpc::parse_error},
      {"", rpc::parse_error},
      {std::string(100, '{'), rpc::parse_error},
      {"[1,2]", rpc::invalid_request},
      {"null", rpc::invalid_request},
      {R"({"jsonrpc":"2.0","id":1})", rpc::invalid_request},
      {R"({"jsonrpc":"2.0","id":[1],"method":"session.create"})", rpc::invalid_request},
      {R"({"jsonrpc":"2.0","id":1,"method":"nope"})", rpc::method_not_found},
      {R"({"jsonrpc":"2.0","id":1,"method":"session.close","params":"x"})", rpc::invalid_params},
      {R"({"jsonrpc":"2.0","id":1,"method":"session.close","params":{}})", rpc::invalid_params},
      {R"({"jsonrpc":"2.0","id":1,"method":"session.close","params":{"session_id":7}})",
       rpc::invalid_params},
      {R"({"jsonrpc":"2.0","id":1,"method":"pty.open","params":{"session_id":"s","cols":1e9,"rows":1}})",
       rpc::invalid_params},
      {R"({"jsonrpc":"2.0","id":1,"method":"pty.open","params":{"session_id":"s","cols":18446744073709551615,"rows":1}})",
       rpc::invalid_params},
      {R"({"jsonrpc":"2.0","id":1,"method":"session.history","params":{"session_key":"k","limit":-1}})",
       rpc::invalid_params},
      {std::string(5000, 'x'), rpc::message_too_large},
  };
  for (const auto& tc : cases) {
    std::size_t before = h.w.transport.sent(c).size();
    h.gw->on_message(c, tc.text);
    h.w.settle();
    ASSERT_EQ(h.w.transport.sent(c).size(), before + 1) << tc.text.substr(0, 80);
    EXPECT_EQ(h.error_code(h.w.transport.sent(c).back()), tc.code) << tc.text.substr(0, 80);
  }
  Json created = h.call(c, "session.create");
  EXPECT_TRUE(created.contains("result")) << created.dump();
}

TEST(Rule11_BadInput, NotificationsGetNoReply) {
  Harness h;
  ConnId c = h.connect();
  std::size_t before = h.w.transport.sent(c).size();
  h.gw->on_message(c, R"({"jsonrpc":"2.0","method":"session.active_list"})");
  h.gw->on_message(c, R"({"jsonrpc":"2.0","method":"nope"})");
  h.w.settle();
  EXPECT_EQ(h.w.transport.sent(c).size(), before);
}

TEST(Rule11_BadInput, AWorkerThatFloodsALineIsReplacedNotBelieved) {
  GatewayConfig cfg = test_config();
  cfg.max_message_bytes = 1024;
  Harness h(cfg);
  ConnId c = h.connect();
  std::string id = h.create(c);
  int r = h.send(c, "slash.exec", {{"session_id", id}, {"command", "/echo"}});
  h.w.settle();
  ChildId w = h.w.procs.complete_spawn();
  h.w.settle();
  h.w.procs.child_output(w, "garbage\n{\"id\":999,\"ok\":true,\"output\":\"stale\"}\n");
  h.w.settle();
  EXPECT_TRUE(h.response(c, r).is_null()) << "garbage and stale ids are ignored";
  h.w.procs.child_output(w, std::string(2000, 'x'));
  h.w.settle();
  EXPECT_EQ(h.error_code(h.response(c, r)), rpc::worker_exited);
  h.settle_all();
  EXPECT_TRUE(h.w.procs.find(w)->released);
}

}  // namespace
}  // namespace lifeline::testing

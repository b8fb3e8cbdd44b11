// A gateway core wired to a ManualWorld, with helpers to speak JSON-RPC to it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/gateway.hpp"
#include "sim/invariants.hpp"
#include "sim/manual_world.hpp"

namespace lifeline::testing {

inline GatewayConfig test_config() {
  GatewayConfig c;
  c.worker_cmd = "/fake/lifeline-slash-worker";
  c.orphan_grace = 20'000;
  c.session_ttl = 60'000;
  c.reaper_interval = 10'000;
  c.slash_timeout = 5'000;
  // The scripted tests count spawns one by one; the pool's own tests turn it on.
  c.worker_pool = 0;
  return c;
}

class Harness {
 public:
  // shared_store: the store is a fleet's (docs/DESIGN.md rule 15), from before the start.
  explicit Harness(GatewayConfig config = test_config(), bool shared_store = false) {
    w.store.shared_mode = shared_store;
    gw = std::make_unique<Gateway>(
        std::move(config), GatewayPorts{w.clock, w.procs, w.transport, w.store, w.random, w.log});
    gw->teardown_observer = [this](const Session& s, EndReason reason, bool connected) {
      std::string why = sim::check_end_reason(s, reason, connected);
      if (!why.empty()) end_reason_violations.push_back(why);
    };
    gw->start();
  }

  sim::ManualWorld w;
  std::unique_ptr<Gateway> gw;
  std::vector<std::string> end_reason_violations;  // docs/DESIGN.md's end-reason oracle

  ConnId connect() {
    ConnId c = next_conn_++;
    gw->on_connect(c);
    return c;
  }
  void disconnect(ConnId c) {
    w.transport.closed.insert(c);
    gw->on_disconnect(c);
    w.settle();
  }

  // Sends a request and returns its id (as sent).
  int send(ConnId c, const std::string& method, Json params = Json::object()) {
    int id = next_id_++;
    Json req = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
    gw->on_message(c, req.dump());
    return id;
  }
  // The response to request id on conn, or null when none arrived (yet).
  Json response(ConnId c, int id) {
    const auto& sent = w.transport.sent(c);
    for (auto it = sent.rbegin(); it != sent.rend(); ++it)  // the newest answer to that id
      if (it->contains("id") && (*it)["id"] == id) return *it;
    return nullptr;
  }
  // Sends, settles, returns the response.
  Json call(ConnId c, const std::string& method, Json params = Json::object()) {
    int id = send(c, method, std::move(params));
    w.settle();
    return response(c, id);
  }
  std::vector<Json> events(ConnId c, const std::string& type) {
    std::vector<Json> out;
    for (const auto& m : w.transport.sent(c))
      if (m.value("method", "") == "event" && m["params"]["type"] == type) out.push_back(m);
    return out;
  }
  std::string create(ConnId c, bool close_on_disconnect = true) {
    Json r = call(c, "session.create", {{"close_on_disconnect", close_on_disconnect}});
    EXPECT_TRUE(r.contains("result")) << r.dump();
    return r["result"]["session_id"].get<std::string>();
  }
  SessionPtr session(const std::string& id) { return gw->find_session(id); }
  // pty.open, its spawn completed: the terminal's id (empty when refused).
  // Asks for an 80x24 terminal and returns the request id; the spawn stays pending.
  int send_pty_open(ConnId c, const std::string& sid) {
    return send(c, "pty.open", {{"session_id", sid}, {"cols", 80}, {"rows", 24}});
  }
  // The whole pty.open sequence: ask, let the spawn complete, return the pty id ("" if
  // refused).
  std::string open_pty(ConnId c, const std::string& sid) {
    int rid = send_pty_open(c, sid);
    w.settle();
    if (w.procs.pending_spawns()) w.procs.complete_spawn();
    w.settle();
    Json r = response(c, rid);
    return r.contains("result") ? r["result"]["pty_id"].get<std::string>() : std::string();
  }

  // Every safety invariant of docs/DESIGN.md holds right now.
  void expect_safe() {
    auto v = sim::check_safety(*gw, w.procs, w.store);
    v.insert(v.end(), end_reason_violations.begin(), end_reason_violations.end());
    EXPECT_TRUE(v.empty()) << ::testing::PrintToString(v);
  }
  // Completes every spawn, runs every timer out, then checks the settled invariants.
  void settle_all(Millis horizon = 120'000) {
    for (int i = 0; i < 100 && (w.procs.pending_spawns() || !w.tasks.empty()); ++i) {
      while (w.procs.pending_spawns()) w.procs.complete_spawn();
      w.settle();
    }
    w.advance(horizon);
    expect_safe();
    auto v = sim::check_settled(*gw, w.procs, w.store);
    EXPECT_TRUE(v.empty()) << ::testing::PrintToString(v);
  }
  int error_code(const Json& r) { return r.contains("error") ? r["error"]["code"].get<int>() : 0; }

 private:
  ConnId next_conn_ = 1;
  int next_id_ = 1;
};

}  // namespace lifeline::testing
